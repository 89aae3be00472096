# Enrichment dot-heatmap: which conditions each cluster over-represents. Colour: log2 odds ratio
# (diverging, capped at +-4); dot size: -log10 FDR; a ring marks FDR <= 0.05. Conditions (rows)
# and clusters (columns) are ordered by hierarchical clustering of their log2 odds ratios.
# Table: cluster, value, log2_odds_ratio, fdr (optionally count).
#   Rscript r/plot_enrichment.R --in enrichment.csv --out enrichment.svg [--by Condition --fdr 0.05]

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

LOR_CAP <- 4

cluster_order <- function(m) {
  if (nrow(m) < 3) return(rownames(m))
  rownames(m)[stats::hclust(stats::dist(m), method = "average")$order]
}

plot_enrichment <- function(table, opts = list()) {
  require_columns(table, c("cluster", "value", "log2_odds_ratio", "fdr"), "enrichment")
  fdr_line <- as.numeric(opt(opts, "fdr", 0.05))
  table$cluster <- as.character(table$cluster)
  table$value <- as.character(table$value)
  finite <- table$log2_odds_ratio[is.finite(table$log2_odds_ratio)]
  # the colour scale ends where the data do (at most +-4), so that moderate odds ratios still show
  cap <- if (length(finite)) min(LOR_CAP, max(1, stats::quantile(abs(finite), 0.98, names = FALSE))) else LOR_CAP
  table$lor <- pmax(pmin(table$log2_odds_ratio, cap), -cap)
  table$lor[is.infinite(table$log2_odds_ratio)] <- sign(table$log2_odds_ratio[is.infinite(table$log2_odds_ratio)]) * cap
  table$lor[is.na(table$lor)] <- 0
  table$neglog <- pmin(-log10(pmax(table$fdr, 1e-300)), 20)
  wide <- stats::xtabs(lor ~ value + cluster, data = table)
  m <- matrix(wide, nrow = nrow(wide), dimnames = dimnames(wide))
  rows <- cluster_order(m)
  cl <- colnames(m); num <- suppressWarnings(as.numeric(cl))
  cols <- if (isTRUE(as.logical(opt(opts, "cluster_columns", FALSE)))) cluster_order(t(m))
          else if (!anyNA(num)) cl[order(num)] else sort(cl)
  table$value <- factor(table$value, levels = rows)
  table$cluster <- factor(table$cluster, levels = cols)
  sig <- table[table$fdr <= fdr_line, , drop = FALSE]
  by <- opt(opts, "by", "condition")
  p <- ggplot(table, aes(cluster, value)) +
    geom_point(aes(size = neglog, fill = lor), shape = 21, colour = "grey60", stroke = 0.15) +
    geom_point(data = sig, aes(size = neglog), shape = 21, fill = NA, colour = "black", stroke = 0.45) +
    scale_fill_gradient2(name = "log2 odds\nratio", low = "#2166ac", mid = "#f7f7f7", high = "#b2182b",
                         limits = c(-cap, cap), breaks = round(c(-cap, -cap / 2, 0, cap / 2, cap), 1),
                         labels = function(x) ifelse(abs(x) >= cap - 1e-9 & x > 0, paste0(">= ", x),
                                                     ifelse(abs(x) >= cap - 1e-9, paste0("<= ", x), x))) +
    scale_size_area(name = "-log10 FDR", max_size = 6, breaks = c(1, 2, 5, 10, 20)) +
    labs(x = "cluster", y = by, title = opt(opts, "title", NULL),
         subtitle = opt(opts, "subtitle", sprintf("ring: FDR <= %g (hypergeometric test, BH)", fdr_line))) +
    theme_cellwak() +
    theme(panel.grid.major = element_line(colour = "grey94", linewidth = 0.3), axis.line = element_blank(),
          axis.text.y = element_text(size = if (length(rows) > 40) 6 else 8))
  n_rows <- length(rows)
  height <- as.numeric(opt(opts, "height", max(4, min(14, 1.6 + 0.17 * n_rows))))
  cellwak_save(function() print(p), opt(opts, "out"), as.numeric(opt(opts, "width", max(5, 2.8 + 0.32 * length(cols)))),
               height, as.numeric(opt(opts, "dpi", 150)))
}

if (cellwak_is_script()) cellwak_cli(plot_enrichment)
