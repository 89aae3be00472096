# Cluster x marker heatmap (ComplexHeatmap), the FlowSOM/CATALYST look: per-cluster means or
# medians of each feature, scaled per feature, with the cluster size, the label and the batch
# composition of each cluster beside it.
# Table: one row per cluster: `cluster`, `n_cells`, optional `label` (majority label),
# `label__<value>` and `batch__<value>` columns (shares of the cluster's cells), and every other
# numeric column a feature (its per-cluster mean or median).
#   Rscript r/plot_heatmap.R --in clusters.csv --out heatmap.pdf [--scale z|minmax --statistic mean]

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

suppressPackageStartupMessages({
  library(ComplexHeatmap)
  library(circlize)
})
ht_opt(message = FALSE)

composition_matrix <- function(table, prefix) {
  cols <- grep(paste0("^", prefix), names(table), value = TRUE)
  if (!length(cols)) return(NULL)
  m <- as.matrix(table[, cols, drop = FALSE])
  colnames(m) <- sub(paste0("^", prefix), "", cols)
  m[is.na(m)] <- 0
  m
}

scale_features <- function(m, how) {
  if (how == "minmax") {   # CATALYST: each feature from its lowest to its highest cluster
    lo <- apply(m, 2, min, na.rm = TRUE); hi <- apply(m, 2, max, na.rm = TRUE)
    s <- sweep(sweep(m, 2, lo), 2, ifelse(hi > lo, hi - lo, 1), "/")
  } else {                 # z-score of the cluster values of each feature
    s <- scale(m)
    s[, apply(m, 2, stats::sd, na.rm = TRUE) == 0] <- 0
  }
  s[is.na(s)] <- 0
  s
}

plot_heatmap <- function(table, opts = list()) {
  require_columns(table, c("cluster", "n_cells"), "heatmap")
  how <- opt(opts, "scale", "z")
  statistic <- opt(opts, "statistic", "mean")
  labels <- composition_matrix(table, "label__")
  batches <- composition_matrix(table, "batch__")
  reserved <- c("cluster", "n_cells", "label", grep("^(label|batch)__", names(table), value = TRUE))
  features <- setdiff(names(table)[vapply(table, is.numeric, logical(1))], reserved)
  if (length(features) < 1) stop("the heatmap table has no feature columns")
  m <- as.matrix(table[, features, drop = FALSE])
  colnames(m) <- ifelse(nchar(features) > 32, paste0(substr(features, 1, 31), "\u2026"), features)
  clusters <- as.character(table$cluster)
  rownames(m) <- clusters
  s <- scale_features(m, how)
  names_rows <- if ("label" %in% names(table)) {
    lab <- as.character(table$label); lab[is.na(lab) | lab == ""] <- "-"
    sprintf("%s  %s", clusters, lab)
  } else clusters
  col_fun <- if (how == "minmax") colorRamp2(seq(0, 1, length.out = 9), rev(hcl.colors(9, "YlGnBu")))
             else colorRamp2(c(-2, -1, 0, 1, 2), c("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b"))
  legend_title <- if (how == "minmax") sprintf("scaled\n%s", statistic) else sprintf("z-score of\ncluster %s", statistic)
  share <- table$n_cells / sum(table$n_cells)
  right <- list(
    cells = anno_barplot(table$n_cells, which = "row", gp = gpar(fill = "grey55", col = NA), border = FALSE,
                         width = unit(2, "cm"), axis_param = list(gp = gpar(fontsize = 7))),
    pct = anno_text(which = "row", sprintf("%.1f%%", 100 * share), gp = gpar(fontsize = 8), just = "left",
                    location = unit(1, "mm"), width = max_text_width("100.0%", gp = gpar(fontsize = 8)) + unit(2, "mm")))
  lgd <- list()
  if (!is.null(labels)) {
    pal <- named_palette(colnames(labels))
    pal[names(pal) %in% c("unlabelled", "other")] <- c(unlabelled = "grey85", other = "grey55")[
      names(pal)[names(pal) %in% c("unlabelled", "other")]]
    right$labels <- anno_barplot(labels, which = "row", gp = gpar(fill = pal, col = NA), bar_width = 0.85, border = FALSE,
                                 width = unit(2.2, "cm"), axis_param = list(gp = gpar(fontsize = 7)))
    lgd[[length(lgd) + 1]] <- Legend(labels = colnames(labels), legend_gp = gpar(fill = pal),
                                     title = opt(opts, "label_title", "label"), title_gp = gpar(fontsize = 8, fontface = "bold"),
                                     labels_gp = gpar(fontsize = 7), ncol = if (ncol(labels) > 12) 2 else 1)
  }
  if (!is.null(batches)) {
    pal_b <- stats::setNames(hcl.colors(max(3, ncol(batches)), "Dark 2")[seq_len(ncol(batches))], colnames(batches))
    right$batches <- anno_barplot(batches, which = "row", gp = gpar(fill = pal_b, col = NA), bar_width = 0.85, border = FALSE,
                                  width = unit(2.2, "cm"), axis_param = list(gp = gpar(fontsize = 7)))
    lgd[[length(lgd) + 1]] <- Legend(labels = colnames(batches), legend_gp = gpar(fill = pal_b),
                                     title = opt(opts, "batch_title", "batch"),
                                     title_gp = gpar(fontsize = 8, fontface = "bold"), labels_gp = gpar(fontsize = 7))
  }
  ra <- do.call(rowAnnotation, c(right, list(annotation_name_gp = gpar(fontsize = 8, fontface = "bold"),
                                             annotation_name_rot = 0, gap = unit(1.5, "mm"))))
  la <- rowAnnotation(cluster = clusters, col = list(cluster = named_palette(clusters)), show_legend = FALSE,
                      show_annotation_name = FALSE, simple_anno_size = unit(3, "mm"))
  font_cols <- if (ncol(s) > 60) 6 else if (ncol(s) > 30) 7 else 9
  ht <- Heatmap(s, name = "value", col = col_fun, row_labels = names_rows, row_names_side = "left",
                left_annotation = la, right_annotation = ra,
                cluster_rows = nrow(s) > 2, cluster_columns = ncol(s) > 2,
                show_row_dend = FALSE, column_dend_height = unit(8, "mm"),
                rect_gp = gpar(col = "white", lwd = 0.4),
                column_names_gp = gpar(fontsize = font_cols), row_names_gp = gpar(fontsize = 9),
                column_title = opt(opts, "column_title", sprintf("%d features", ncol(s))),
                column_title_gp = gpar(fontsize = 9, col = "grey30"),
                row_title = "cluster", row_title_gp = gpar(fontsize = 9, col = "grey30"),
                heatmap_legend_param = list(title = legend_title, title_gp = gpar(fontsize = 8, fontface = "bold"),
                                            labels_gp = gpar(fontsize = 7)))
  title <- opt(opts, "title", NULL)
  draw_it <- function() {
    draw(ht, annotation_legend_list = lgd, merge_legend = TRUE, heatmap_legend_side = "right",
         column_title = title, column_title_gp = gpar(fontsize = 13, fontface = "bold"),
         padding = unit(c(6, 2, 2, 14), "mm"))
  }
  # sized to the content: a column per feature, a row per cluster, room for the longest names
  longest_col <- max(nchar(colnames(s)))
  n_legend <- max(0, if (!is.null(labels)) ncol(labels) else 0, if (!is.null(batches)) ncol(batches) else 0)
  width <- 5.2 + 0.2 * ncol(s) * font_cols / 9 + 0.06 * max(nchar(names_rows)) + (!is.null(labels) + !is.null(batches)) * 1.1 +
    if (!is.null(labels)) 0.085 * max(nchar(colnames(labels))) else 0
  height <- 1.6 + max(0.32 * nrow(s), 0.17 * (n_legend + 8)) + 0.095 * longest_col * font_cols / 9
  cellwak_save(draw_it, opt(opts, "out"), as.numeric(opt(opts, "width", min(24, width))),
               as.numeric(opt(opts, "height", min(18, max(4, height)))), as.numeric(opt(opts, "dpi", 150)))
}

if (cellwak_is_script()) cellwak_cli(plot_heatmap)
