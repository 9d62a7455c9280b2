"""GazeNet family (TAO ``gazenet``): sample, data, train, evaluate, inference, export."""
