"""Distributed jobs: which launcher started this process, its rank and job id, and the job area in the store where
the ranks of one job hand their reports to rank 0. May import ``registry`` and below; ``tracking`` uses it.
"""
