"""The forecasting library the forecaster serves and the trainer fits: series panels, models, backtest, selection."""
