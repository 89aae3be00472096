# Cluster composition per batch or sample: stacked bars of the share of each cluster's cells in
# each batch (the same cluster colours as the embedding and the heatmap), with each bar's cells.
# Table: group (the batch or sample), cluster, count.
#   Rscript r/plot_composition.R --in counts.csv --out composition.png [--by batch]

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

plot_composition <- function(table, opts = list()) {
  require_columns(table, c("group", "cluster", "count"), "composition")
  table$cluster <- as.character(table$cluster)
  cl <- unique(table$cluster); num <- suppressWarnings(as.numeric(cl))
  lev <- if (!anyNA(num)) cl[order(num)] else sort(cl)
  table$cluster <- factor(table$cluster, levels = lev)
  table$group <- as.character(table$group)
  totals <- stats::aggregate(count ~ group, data = table, FUN = sum)
  table$share <- table$count / totals$count[match(table$group, totals$group)]
  groups <- totals$group
  if (length(groups) > 2) {   # similar compositions next to each other
    wide <- stats::xtabs(share ~ group + cluster, data = table)
    groups <- rownames(wide)[stats::hclust(stats::dist(matrix(wide, nrow = nrow(wide))))$order]
  }
  table$group <- factor(table$group, levels = groups)
  totals$group <- factor(totals$group, levels = groups)
  by <- opt(opts, "by", "batch")
  p <- ggplot(table, aes(x = group, y = share, fill = cluster)) +
    geom_col(width = 0.8, colour = "white", linewidth = 0.15) +
    geom_text(data = totals, aes(x = group, y = 1.02, label = format(count, big.mark = ",")), inherit.aes = FALSE,
              vjust = 0, size = 2.8, colour = "grey30") +
    scale_fill_manual(values = named_palette(lev), name = "cluster",
                      guide = guide_legend(ncol = if (length(lev) > 16) 2 else 1)) +
    scale_y_continuous(labels = function(x) paste0(round(100 * x), "%"), breaks = seq(0, 1, 0.25),
                       expand = expansion(mult = c(0, 0.08))) +
    labs(x = by, y = "share of cells", title = opt(opts, "title", NULL),
         subtitle = opt(opts, "subtitle", "numbers: cells per bar")) +
    theme_cellwak() + theme(panel.grid.major.x = element_blank())
  if (length(groups) > 6 || max(nchar(groups)) > 8) {
    p <- p + theme(axis.text.x = element_text(angle = 45, hjust = 1, vjust = 1))
  }
  cellwak_save(function() print(p), opt(opts, "out"),
               as.numeric(opt(opts, "width", max(5, min(14, 2.5 + 0.45 * length(groups))))),
               as.numeric(opt(opts, "height", 4.5)), as.numeric(opt(opts, "dpi", 150)))
}

if (cellwak_is_script()) cellwak_cli(plot_composition)
