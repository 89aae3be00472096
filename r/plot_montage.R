# Image montage: each cluster's typical crops (the cells nearest its centroid), one row per
# cluster, nearest first, with the cluster's name and size at the left.
# From R: plot_montage(crops, pixels, opts) with crops a data frame (cluster, optional cell and
# n_cells) and pixels an array (crops, height, width, channels) of values in 0..1.
# Table (command line): cluster, channels, height, width, optional n_cells, then one column per
# value of the crop in (channel, row, column) order, named p0, p1, ...
#   Rscript r/plot_montage.R --in crops.csv --out montage.png

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

crop_raster <- function(pixels, i) {
  img <- pixels[i, , , , drop = TRUE]
  if (length(dim(img)) == 2) return(grDevices::as.raster(img))
  if (dim(img)[3] == 1) return(grDevices::as.raster(img[, , 1]))
  if (dim(img)[3] == 2) img <- array(c(img[, , 1], img[, , 2], img[, , 1] * 0), c(dim(img)[1:2], 3))
  grDevices::as.raster(img[, , 1:3])
}

plot_montage <- function(crops, pixels, opts = list()) {
  require_columns(crops, c("cluster"), "montage")
  pixels[!is.finite(pixels)] <- 0
  pixels <- pmin(pmax(pixels, 0), 1)
  crops$cluster <- as.character(crops$cluster)
  cl <- unique(crops$cluster); num <- suppressWarnings(as.numeric(cl))
  lev <- if (!anyNA(num)) cl[order(num)] else cl
  per_row <- max(table(crops$cluster))
  pal <- named_palette(lev)
  label_of <- function(k) {
    rows <- crops[crops$cluster == k, , drop = FALSE]
    extra <- if ("n_cells" %in% names(rows)) sprintf("\n%s cells", format(rows$n_cells[1], big.mark = ",")) else ""
    name <- if ("label" %in% names(rows) && !is.na(rows$label[1]) && nzchar(rows$label[1])) sprintf("\n%s", rows$label[1]) else ""
    sprintf("cluster %s%s%s", k, name, extra)
  }
  draw_it <- function() {
    grid::grid.newpage()
    title <- opt(opts, "title", NULL)
    top <- if (is.null(title)) 0.3 else 0.6
    lay <- grid::grid.layout(length(lev) + 1, per_row + 1,
                             widths = grid::unit(c(1.35, rep(1, per_row)), c("inches", rep("null", per_row))),
                             heights = grid::unit(c(top, rep(1, length(lev))), c("inches", rep("null", length(lev)))),
                             respect = FALSE)
    grid::pushViewport(grid::viewport(layout = lay, width = 0.97, height = 0.97))
    if (!is.null(title)) {
      grid::pushViewport(grid::viewport(layout.pos.row = 1, layout.pos.col = seq_len(per_row + 1)))
      grid::grid.text(title, x = 0, hjust = 0, gp = grid::gpar(fontsize = 13, fontface = "bold"))
      grid::popViewport()
    }
    for (r in seq_along(lev)) {
      k <- lev[r]
      idx <- which(crops$cluster == k)
      grid::pushViewport(grid::viewport(layout.pos.row = r + 1, layout.pos.col = 1))
      grid::grid.rect(x = 0.04, width = 0.06, height = 0.8, hjust = 0, gp = grid::gpar(fill = pal[[k]], col = NA))
      grid::grid.text(label_of(k), x = 0.14, hjust = 0, gp = grid::gpar(fontsize = 8.5, lineheight = 0.95))
      grid::popViewport()
      for (j in seq_along(idx)) {
        grid::pushViewport(grid::viewport(layout.pos.row = r + 1, layout.pos.col = j + 1))
        grid::grid.raster(crop_raster(pixels, idx[j]), width = grid::unit(0.94, "snpc"), height = grid::unit(0.94, "snpc"),
                          interpolate = FALSE)
        grid::popViewport()
      }
    }
    grid::popViewport()
  }
  n_rows <- length(lev)
  width <- as.numeric(opt(opts, "width", 1.5 + 0.75 * per_row))
  height <- as.numeric(opt(opts, "height", (if (is.null(opt(opts, "title"))) 0.4 else 0.7) + 0.78 * n_rows))
  cellwak_save(draw_it, opt(opts, "out"), width, height, as.numeric(opt(opts, "dpi", 150)))
}

plot_montage_table <- function(table, opts = list()) {
  require_columns(table, c("cluster", "channels", "height", "width"), "montage")
  shape <- c(table$channels[1], table$height[1], table$width[1])
  values <- as.matrix(table[, grep("^p[0-9]+$", names(table)), drop = FALSE])
  if (ncol(values) != prod(shape)) stop(sprintf("each crop needs %d pixel columns p0..., found %d", prod(shape), ncol(values)))
  # (n, C*H*W) in C,H,W order -> (n, H, W, C)
  arr <- array(values, c(nrow(values), shape[3], shape[2], shape[1]))   # R fills the first index fastest
  pixels <- aperm(arr, c(1, 3, 2, 4))
  plot_montage(table, pixels, opts)
}

if (cellwak_is_script()) cellwak_cli(plot_montage_table)
