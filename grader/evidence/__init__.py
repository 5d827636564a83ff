"""Evidence: the collector's records joined into facts about the run's processes, per question."""
