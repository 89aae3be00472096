"""Widgets of the dashboard: crop grids and charts."""
