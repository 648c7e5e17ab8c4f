"""Sources of co-saliency data built from annotated photos.

* :mod:`~gconet_lab.data.sources.coco` reads COCO instance annotations (YOLO-seg labels or COCO
  JSON) and rasterises their polygons;
* :mod:`~gconet_lab.data.sources.copy_paste` cuts those instances out and pastes them into
  synthetic co-saliency groups (after Kong et al., arXiv 2108.02093).
"""
