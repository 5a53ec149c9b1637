"""Evaluation: pose metrics, scores of predictions against truth, set statistics, the paper's protocols
(docs/ARCHITECTURE.md).
"""
