"""Shared by every stage: student text made safe for each destination, and facts about Python syntax."""
