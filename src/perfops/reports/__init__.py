"""Reports: audiences -> sections -> html / md / json / pdf."""
