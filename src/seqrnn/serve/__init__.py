"""Serving trained models: the HTTP service and ONNX export."""
