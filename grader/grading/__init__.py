"""Grading: the rubric, its checks, the points and notes of each question, and the result types."""
