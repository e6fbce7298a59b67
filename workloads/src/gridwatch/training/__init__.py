"""The model trainer: fits the forecaster's selection and the detector's forest from history into the registry."""
