"""The notebook layer: the fast profile and cached trained models, widgets, live curves, inspection helpers
and the figures (:mod:`gconet_lab.lab.viz`)."""
