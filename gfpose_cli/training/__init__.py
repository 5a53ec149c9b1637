"""Training: the trainer, distributed runs, training pose sets from the archives and user files, synthetic
datasets (views of generated poses) and their loader (docs/ARCHITECTURE.md).
"""
