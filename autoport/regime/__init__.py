"""Market regime detection: a 3-state Gaussian HMM with online (filtered) labels.

``features`` builds causal inputs from prices, ``hmm`` fits and filters, ``dating`` dates bull
and bear markets by the peak-to-trough rule, ``evaluation`` scores labels against a reference.
"""
