"""Offline evaluations of Gridwatch's analytics: the NAB scorer and the anomaly-quality report."""
