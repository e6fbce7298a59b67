"""Grid-signal ingestor: polls public grid APIs (carbon intensity, prices, demand, mix) into `<prefix>.grid`."""
