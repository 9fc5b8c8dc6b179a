"""One module per flow: validate input, run the flow, answer a union member."""
