# Gamma-sweep panel: how the resolution was chosen. One panel each for the number of clusters,
# the stability (across subsamples and seeds), the selection rule's own criterion when it is
# another column, and, when the dataset has labels, ARI against them (reported, never used to
# choose). The chosen gamma is marked in every panel.
# Table: gamma, n_clusters, and any of stability_subsample, stability_seeds, silhouette,
# n2s_depwak, n2s_partition, modularity, ari, nmi; `chosen` (TRUE on the chosen row); `passed`
# (1/0: the rule's test per resolution; failing resolutions' subsample stability drawn as open
# points); `cluster_jaccard` (the least reproducible cluster's Jaccard on the subsamples). Option
# `threshold`: the rule's stability threshold, a dotted line on the stability panel; `cluster_floor`:
# the floor on cluster_jaccard, a dotted line on its panel.
#   Rscript r/plot_sweep.R --in sweep.csv --out sweep.png [--rule reproducible --rule-column stability_subsample]

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

SWEEP_SERIES <- list(   # column -> (panel, series)
  n_clusters = c("clusters", "clusters"),
  stability_subsample = c("stability (ARI)", "across subsamples"),
  stability_seeds = c("stability (ARI)", "across seeds"),
  cluster_jaccard = c("least reproducible cluster (Jaccard)", "least reproducible cluster"),
  silhouette = c("silhouette", "silhouette"),
  n2s_depwak = c("noise2self loss", "DEPWAK"),
  n2s_partition = c("noise2self loss", "partition"),
  modularity = c("modularity", "modularity"),
  ari = c("agreement with labels", "ARI"),
  nmi = c("agreement with labels", "NMI"))

plot_sweep <- function(table, opts = list()) {
  require_columns(table, c("gamma", "n_clusters"), "sweep")
  rule <- opt(opts, "rule", NULL)
  rule_column <- opt(opts, "rule_column", NULL)
  chosen <- if ("chosen" %in% names(table)) table$gamma[as.logical(table$chosen) %in% TRUE] else numeric(0)
  if (!length(chosen) && !is.null(opt(opts, "chosen_gamma"))) chosen <- as.numeric(opt(opts, "chosen_gamma"))
  shown <- c("n_clusters", "stability_subsample", "stability_seeds", "cluster_jaccard", "ari", "nmi", rule_column)
  rule_panel <- if (!is.null(rule_column)) { w <- SWEEP_SERIES[[rule_column]]; if (is.null(w)) rule_column else w[1] } else NULL
  parts <- list()
  for (column in intersect(unique(shown), names(table))) {
    v <- suppressWarnings(as.numeric(table[[column]]))
    if (!any(is.finite(v))) next
    what <- SWEEP_SERIES[[column]]
    if (is.null(what)) what <- c(column, column)
    panel <- what[1]
    if (!is.null(rule_panel) && panel == rule_panel && !is.null(rule)) panel <- sprintf("%s (the rule)", panel)
    parts[[column]] <- data.frame(gamma = table$gamma, value = v, panel = panel, series = what[2])
  }
  long <- do.call(rbind, parts)
  long <- long[is.finite(long$value), ]
  long$panel <- factor(long$panel, levels = unique(long$panel))
  series <- unique(long$series)
  pal <- stats::setNames(c("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#d62728", "#17becf",
                           "#7f7f7f", "#bcbd22")[seq_along(series)], series)
  subtitle <- if (length(chosen)) sprintf("chosen gamma = %s%s", signif(chosen[1], 3),
                                          if (!is.null(rule)) sprintf(" by the '%s' rule", rule) else "") else NULL
  p <- ggplot(long, aes(gamma, value, colour = series)) +
    geom_line(linewidth = 0.7) + geom_point(size = 1.6) +
    facet_wrap(~panel, scales = "free_y", ncol = if (nlevels(long$panel) == 4) 2 else nlevels(long$panel)) +
    scale_colour_manual(values = pal, name = NULL) +
    labs(x = "resolution gamma", y = NULL, title = opt(opts, "title", NULL),
         subtitle = opt(opts, "subtitle", subtitle)) +
    theme_cellwak() + theme(legend.position = "bottom", panel.spacing = unit(1, "lines"))
  if (min(table$gamma) > 0 && max(table$gamma) / min(table$gamma) >= 10) {
    p <- p + scale_x_log10(breaks = c(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50),
                           labels = function(x) as.character(x))
  }
  stab <- long[long$series == "across subsamples", ]
  if ("passed" %in% names(table) && nrow(stab)) {
    passed <- suppressWarnings(as.numeric(table$passed))
    failing <- stab[stab$gamma %in% table$gamma[is.finite(passed) & passed == 0], ]
    if (nrow(failing)) {
      p <- p + geom_point(data = failing, shape = 21, size = 1.9, fill = "white", stroke = 0.7, show.legend = FALSE)
    }
  }
  threshold <- suppressWarnings(as.numeric(opt(opts, "threshold", NA)))
  if (length(threshold) == 1 && is.finite(threshold) && nrow(stab)) {
    line <- data.frame(panel = factor(stab$panel[1], levels = levels(long$panel)), y = threshold)
    p <- p + geom_hline(data = line, aes(yintercept = y), linetype = "dotted", colour = "grey30", linewidth = 0.5) +
      labs(caption = sprintf("stability: open points fail the rule's test; dotted line: its threshold %.3f", threshold))
  } else if ("passed" %in% names(table) && nrow(stab)) {
    p <- p + labs(caption = "stability: open points fail the rule's test")
  }
  floor <- suppressWarnings(as.numeric(opt(opts, "cluster_floor", NA)))
  jac <- long[long$series == "least reproducible cluster", ]
  if (length(floor) == 1 && is.finite(floor) && nrow(jac)) {
    line <- data.frame(panel = factor(jac$panel[1], levels = levels(long$panel)), y = floor)
    p <- p + geom_hline(data = line, aes(yintercept = y), linetype = "dotted", colour = "grey30", linewidth = 0.5)
    p$labels$caption <- paste0(if (is.null(p$labels$caption)) "" else paste0(p$labels$caption, "\n"),
                               sprintf("least reproducible cluster: dotted line, the rule's floor %.2f", floor))
  }
  if (length(chosen)) {
    p <- p + geom_vline(xintercept = chosen[1], linetype = "dashed", colour = "grey25", linewidth = 0.5) +
      geom_point(data = long[abs(long$gamma - chosen[1]) < 1e-9, ], shape = 21, size = 3.4, fill = NA,
                 colour = "black", stroke = 0.8, show.legend = FALSE)
  }
  n_panels <- nlevels(long$panel)
  cellwak_save(function() print(p), opt(opts, "out"),
               as.numeric(opt(opts, "width", c(5.5, 9, 11.5, 9)[min(n_panels, 4)] + if (n_panels > 4) 2 else 0)),
               as.numeric(opt(opts, "height", if (n_panels >= 4) 6.5 else 4.2)), as.numeric(opt(opts, "dpi", 150)))
}

if (cellwak_is_script()) cellwak_cli(plot_sweep)
