# Embedding scatter (UMAP or PCA layout), coloured by a cluster, label, batch or feature.
# Table: x, y, value (the colour: text for groups, numbers for a feature), optionally `order`.
# Past 50,000 cells the points are drawn as one raster image (a pixel grid filled in a seeded
# random order, so no group hides another), so the file stays small and fast at a million cells.
#   Rscript r/plot_embedding.R --in cells.csv --out umap.png [--color-by cluster --title T]

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

RASTER_ABOVE <- 50000

embedding_colours <- function(value, numeric) {
  if (numeric) {
    lim <- stats::quantile(value, c(0.01, 0.99), na.rm = TRUE, names = FALSE)  # outliers do not flatten the scale
    if (!is.finite(diff(lim)) || diff(lim) == 0) lim <- range(value, na.rm = TRUE) + c(-0.5, 0.5)
    scaled <- pmin(pmax((value - lim[1]) / diff(lim), 0), 1)
    ramp <- grDevices::colorRamp(viridisLite::viridis(256))
    rgb <- ramp(ifelse(is.na(scaled), 0, scaled))
    cols <- grDevices::rgb(rgb[, 1], rgb[, 2], rgb[, 3], maxColorValue = 255)
    cols[is.na(value)] <- "#d9d9d9"
    list(colours = cols, limits = lim)
  } else {
    lev <- levels(value)
    pal <- named_palette(lev)
    list(colours = unname(pal[as.character(value)]), palette = pal)
  }
}

raster_layer <- function(x, y, colours, xr, yr, pixels) {
  # one pixel per grid cell, the last cell drawn (random order) wins; drawn 2x2 for visibility
  nx <- pixels[1]; ny <- pixels[2]
  ix <- pmin(nx, pmax(1L, as.integer(floor((x - xr[1]) / diff(xr) * nx)) + 1L))
  iy <- pmin(ny, pmax(1L, as.integer(floor((yr[2] - y) / diff(yr) * ny)) + 1L))
  img <- matrix(NA_character_, nrow = ny, ncol = nx)
  for (dx in 0:1) for (dy in 0:1) {
    img[cbind(pmin(ny, iy + dy), pmin(nx, ix + dx))] <- colours
  }
  img[is.na(img)] <- "#FFFFFF00"
  annotation_raster(grDevices::as.raster(img), xmin = xr[1], xmax = xr[2], ymin = yr[1], ymax = yr[2],
                    interpolate = FALSE)
}

plot_embedding <- function(table, opts = list()) {
  require_columns(table, c("x", "y", "value"), "embedding")
  color_by <- opt(opts, "color_by", "value")
  basis <- opt(opts, "basis", "UMAP")
  n <- nrow(table)
  v <- table$value
  few_whole <- is.numeric(v) && all(v == round(v), na.rm = TRUE) && length(unique(v)) <= 30  # cluster numbers
  numeric <- is.numeric(v) && !isTRUE(as.logical(opt(opts, "categorical", few_whole)))
  if (!numeric) {
    v <- as.character(table$value)
    v[is.na(v) | v == ""] <- "(none)"
    ord <- unique(v)
    num <- suppressWarnings(as.numeric(ord))
    lev <- if (!anyNA(num)) ord[order(num)] else sort(ord)
    table$value <- factor(v, levels = lev)
  }
  set.seed(as.integer(opt(opts, "seed", 0)))
  table <- table[sample.int(n), , drop = FALSE]          # no group is drawn entirely on top
  col <- embedding_colours(table$value, numeric)
  xr <- range(table$x); yr <- range(table$y)
  pad <- c(diff(xr), diff(yr)) * 0.02
  xr <- xr + c(-1, 1) * pad[1]; yr <- yr + c(-1, 1) * pad[2]
  width <- as.numeric(opt(opts, "width", 7)); height <- as.numeric(opt(opts, "height", 6))
  dpi <- as.numeric(opt(opts, "dpi", 150))
  raster <- n > RASTER_ABOVE
  size <- if (n > 20000) 0.3 else if (n > 5000) 0.6 else if (n > 1000) 1.1 else 1.8
  p <- ggplot(table, aes(x, y))
  if (raster) {
    # a hidden point per colour gives the legend; the raster draws the cells
    key <- if (numeric) table[c(which.min(table$value), which.max(table$value)), ] else table[!duplicated(table$value), ]
    p <- ggplot(key, aes(x, y, colour = value)) + geom_point(size = 0.01, alpha = 0) +
      raster_layer(table$x, table$y, col$colours, xr, yr,
                   pixels = pmax(200, round(c(width * 0.75, height * 0.85) * min(dpi, 150) / 1.25)))
  } else {
    p <- p + geom_point(aes(colour = value), size = size, stroke = 0, alpha = if (n > 5000) 0.8 else 1)
  }
  if (numeric) {
    p <- p + scale_colour_viridis_c(name = color_by, limits = col$limits, oob = scales::squish)
  } else {
    nlev <- nlevels(table$value)
    p <- p + scale_colour_manual(name = color_by, values = col$palette, drop = FALSE) +
      guides(colour = guide_legend(override.aes = list(size = 3, alpha = 1),
                                   ncol = if (nlev > 16) 2 else 1))
    if (nlev <= 40 && isTRUE(as.logical(opt(opts, "label_groups", nlev <= 30)))) {
      centres <- stats::aggregate(cbind(x, y) ~ value, data = table, FUN = stats::median)
      p <- p + ggrepel::geom_label_repel(data = centres, aes(x, y, label = value), inherit.aes = FALSE,
                                         size = 3, label.size = 0.15, label.padding = unit(0.12, "lines"),
                                         fill = grDevices::adjustcolor("white", 0.8), min.segment.length = unit(1, "lines"),
                                         seed = 1, max.overlaps = Inf)
    }
  }
  subtitle <- sprintf("%s cells%s", format(n, big.mark = ","), if (raster) " (points rasterised)" else "")
  p <- p + coord_cartesian(xlim = xr, ylim = yr, expand = FALSE) +
    labs(x = paste0(basis, "1"), y = paste0(basis, "2"), title = opt(opts, "title", NULL),
         subtitle = opt(opts, "subtitle", subtitle)) +
    theme_cellwak() + theme(axis.text = element_blank(), axis.ticks = element_blank(),
                            panel.grid.major = element_blank(), aspect.ratio = 1)
  cellwak_save(function() print(p), opt(opts, "out"), width, height, dpi)
}

if (cellwak_is_script()) cellwak_cli(plot_embedding)
