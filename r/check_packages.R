# Report the installed version of each R package named on the command line, as one JSON object
# ({"ggplot2": "3.4.1", "missing": null}). Used by `cellwak doctor`; needs only base R.
args <- commandArgs(trailingOnly = TRUE)
version_of <- function(p) {
  tryCatch(as.character(utils::packageVersion(p)), error = function(e) NA_character_)
}
fields <- vapply(args, function(p) {
  v <- version_of(p)
  sprintf('"%s": %s', p, if (is.na(v)) "null" else sprintf('"%s"', v))
}, character(1))
cat("{", paste(fields, collapse = ", "), "}\n", sep = "")
