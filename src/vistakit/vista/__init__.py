"""VISTA's own steps (docs/methods.md, "VISTA step 1" and "VISTA step 2"): the teacher-forced scoring model
(`scoring`), prefix resampling at the first critical token (`prefix`), the vision-aware attention score
(`vas`) and its filter (`vas_filter`), the two-pass image-dependence label (`two_pass`) and the VAS layer
calibration (`vas_calibration`)."""
