"""Facts about this machine: nvidia-smi, the CUDA driver table, docker info, host ports.

The lowest stage: it parses what a host says and imports nothing else of mlstack but errors.
"""
