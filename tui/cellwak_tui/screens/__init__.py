"""The dashboard's screens: datasets, runs, clusters, and their dialogs."""
