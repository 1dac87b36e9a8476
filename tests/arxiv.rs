//! arXiv readers (issue 4): filled in by the readers' author.
