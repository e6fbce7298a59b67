"""Demand forecasting: models, the rolling-origin backtest and the forecaster workload."""
