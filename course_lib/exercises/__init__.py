"""The checks behind each lecture's check cells: ``lectureNN.py`` holds lecture NN's ``check_*`` functions."""
