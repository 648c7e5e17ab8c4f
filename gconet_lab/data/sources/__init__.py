"""Where the project's data comes from and how it is made.

* :mod:`~gconet_lab.data.sources.registry` lists the public archives of the raw data (address,
  mirror, size, licence, archive layout);
* :mod:`~gconet_lab.data.sources.download` fetches one file over HTTP, resuming a partial download;
* :mod:`~gconet_lab.data.sources.manifest` checks the raw files by content (per-file SHA-256);
* :mod:`~gconet_lab.data.sources.unpack` maps an archive's layout onto the project's;
* :mod:`~gconet_lab.data.sources.locate` finds the raw data (or downloads it into the user cache);
* :mod:`~gconet_lab.data.sources.coco` reads COCO instance annotations (YOLO-seg labels or COCO
  JSON) and rasterises their polygons;
* :mod:`~gconet_lab.data.sources.copy_paste` cuts those instances out and pastes them into
  synthetic co-saliency groups (after Kong et al., arXiv 2108.02093);
* :mod:`~gconet_lab.data.sources.coco_groups` groups COCO images by class (COCO-SEG style, Sec. 4.1);
* :mod:`~gconet_lab.data.sources.icoseg` converts iCoseg as distributed;
* :mod:`~gconet_lab.data.sources.synthetic` draws the synthetic co-saliency set;
* :mod:`~gconet_lab.data.sources.benchmarks` lists the CoSOD benchmarks and checks their archives.

The scripts in ``data_scripts/`` are the command lines of these modules; the library never imports them.
"""
