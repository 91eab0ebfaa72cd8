"""RAFT optical flow as a sampt point tracker (flows chained frame to frame)."""
