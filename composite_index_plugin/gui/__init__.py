"""Widgets of the Composite Index plugin (the Builder dock). They run the Processing algorithms;
no analysis code lives here."""
