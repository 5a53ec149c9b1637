"""Signals along a take: temporal smoothing, noise levels, the classical filters, gap filling.

Time along a take, no model; a gap filler takes the model's completions as a callable (docs/ARCHITECTURE.md).
"""
