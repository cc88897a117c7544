"""Web app: prosumer portal (the ETSC in a browser), blockchain explorer, market dashboards."""
