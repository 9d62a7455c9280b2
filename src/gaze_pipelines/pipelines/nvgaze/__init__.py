"""NvGaze near-eye family: sample renderer, raw -> H5, merge, reflections, train, evaluate, export."""
