# Shared by every cellwak figure: the theme, the palettes, the devices (PNG via ragg, PDF via cairo,
# SVG via svglite so that labels stay searchable text) and the command line of `Rscript r/plot_*.R`.
# Sourced by each plot_*.R file (and by cellwak's rpy2 bridge before them).

suppressPackageStartupMessages({
  library(ggplot2)
})

cellwak_palette <- function(n) {
  # tab10 then its light partners (scanpy's default_20), then an HCL wheel for more groups
  base <- c("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
            "#f7b6d2", "#dbdb8d", "#9edae5", "#393b79")
  if (n <= length(base)) return(base[seq_len(n)])
  grDevices::hcl.colors(n, "Dark 3")
}

named_palette <- function(levels) {
  stats::setNames(cellwak_palette(length(levels)), levels)
}

theme_cellwak <- function(base_size = 11) {
  theme_minimal(base_size = base_size) %+replace%
    theme(panel.grid.minor = element_blank(),
          panel.grid.major = element_line(colour = "grey92", linewidth = 0.3),
          axis.line = element_line(colour = "grey30", linewidth = 0.3),
          axis.ticks = element_line(colour = "grey30", linewidth = 0.3),
          plot.title = element_text(face = "bold", size = rel(1.15), hjust = 0, margin = margin(b = 4)),
          plot.subtitle = element_text(colour = "grey30", hjust = 0, margin = margin(b = 6)),
          plot.title.position = "plot",
          strip.text = element_text(face = "bold", hjust = 0, margin = margin(b = 3)),
          legend.key.size = unit(0.9, "lines"),
          plot.background = element_rect(fill = "white", colour = NA),
          plot.margin = margin(8, 10, 8, 8))
}

cellwak_device <- function(out, width, height, dpi) {
  ext <- tolower(tools::file_ext(out))
  if (ext == "png") {
    ragg::agg_png(out, width = width, height = height, units = "in", res = dpi, background = "white")
  } else if (ext == "pdf") {
    if (isTRUE(capabilities("cairo"))) grDevices::cairo_pdf(out, width = width, height = height)
    else grDevices::pdf(out, width = width, height = height, useDingbats = FALSE)
  } else if (ext == "svg") {
    svglite::svglite(out, width = width, height = height, bg = "white")
  } else {
    stop(sprintf("cannot write a figure to '.%s': use .png, .pdf or .svg", ext))
  }
}

# Open the device for `out`, call draw() (which prints a ggplot or draws a grid/ComplexHeatmap
# figure), close the device even when draw() fails.
cellwak_save <- function(draw, out, width = 7, height = 5, dpi = 150) {
  cellwak_device(out, width, height, dpi)
  ok <- FALSE
  on.exit(if (!ok) grDevices::dev.off(), add = TRUE)
  draw()
  grDevices::dev.off()
  ok <- TRUE
  invisible(out)
}

require_columns <- function(table, columns, what) {
  missing <- setdiff(columns, names(table))
  if (length(missing)) {
    stop(sprintf("the %s table has no column %s (it has: %s)", what,
                 paste(sprintf("'%s'", missing), collapse = ", "), paste(names(table), collapse = ", ")))
  }
}

opt <- function(opts, name, default = NULL) {
  value <- opts[[name]]
  if (is.null(value) || (length(value) == 1 && is.na(value))) default else value
}

# `Rscript r/plot_X.R --in TABLE --out FILE [--width 7 --height 5 --dpi 150 --title T --OPTION VALUE]`:
# every other --name value pair becomes opts$name (dashes become underscores).
cellwak_cli <- function(plot_fun, defaults = list()) {
  args <- commandArgs(trailingOnly = TRUE)
  if (length(args) == 0 || any(args %in% c("-h", "--help"))) {
    cat("usage: Rscript", sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)),
        "--in TABLE.csv --out FILE.png|.pdf|.svg [--width IN --height IN --dpi N --title TEXT ...]\n")
    quit(status = if (length(args) == 0) 2 else 0)
  }
  if (length(args) %% 2 != 0) stop("options come in pairs: --name value")
  keys <- sub("^--", "", args[c(TRUE, FALSE)])
  opts <- stats::setNames(as.list(args[c(FALSE, TRUE)]), gsub("-", "_", keys))
  if (is.null(opts[["in"]]) || is.null(opts[["out"]])) stop("give --in TABLE and --out FILE")
  for (n in c("width", "height", "dpi")) if (!is.null(opts[[n]])) opts[[n]] <- as.numeric(opts[[n]])
  opts <- utils::modifyList(defaults, opts)
  table <- as.data.frame(data.table::fread(opts[["in"]], check.names = FALSE, data.table = FALSE))
  plot_fun(table, opts)
  cat(opts$out, "\n")
}

# Runs `main` when the file is run by Rscript, not when it is sourced.
cellwak_is_script <- function() {
  sys.nframe() <= 1L && length(grep("^--file=", commandArgs())) > 0
}

cellwak_here <- function() {
  file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
  if (length(file)) dirname(normalizePath(file[1])) else "."
}

# The rpy2 bridge's entry: call `fun` (a name) with `args` (a list of R objects), every message
# and warning muffled (they would reach the caller's stdout), and return "" on success or the
# error's message as one line.
cellwak_call <- function(fun, args) {
  withCallingHandlers(
    tryCatch({
      do.call(fun, args)
      ""
    }, error = function(e) {
      call <- conditionCall(e)
      where <- if (is.call(call)) paste0(" (in ", deparse(call[[1]], nlines = 1)[1], ")") else ""
      paste0(gsub("[[:space:]]+", " ", conditionMessage(e)), where)
    }),
    warning = function(w) invokeRestart("muffleWarning"),
    message = function(m) invokeRestart("muffleMessage"))
}

cellwak_missing_packages <- function(packages) {
  packages[!vapply(packages, requireNamespace, logical(1), quietly = TRUE)]
}
