"""Defenses against backdoors, each from one vantage point:

- `neural_cleanse`: inspect a trained model (is one class far too easy to reach?);
- `strip`: inspect one input at run time (does a hidden pattern dominate the answer?);
- `spectral`: inspect the training data (which examples leave a trace in the features?), then retrain.
"""
