"""The tests behind each lecture's check cells: lectureNN.py holds lecture NN's (CS231n-style checks)."""
