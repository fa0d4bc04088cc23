"""Networks: input encoders, the recurrent body, heads; sampling; the NumPy reference cells."""
