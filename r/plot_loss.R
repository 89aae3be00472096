# Training curves: train and validation loss per epoch, one panel per stage (e.g. DeePWAK's
# pretraining then its joint stage), log scale when the loss spans more than a factor of 20.
# Table: stage, epoch, split (train/validation), value; optionally metric.
#   Rscript r/plot_loss.R --in metrics.csv --out loss.png

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

plot_loss <- function(table, opts = list()) {
  require_columns(table, c("stage", "epoch", "split", "value"), "loss")
  table <- table[is.finite(table$value), , drop = FALSE]
  if (!nrow(table)) stop("the loss table has no finite values")
  table$stage <- factor(as.character(table$stage), levels = unique(as.character(table$stage)))
  table$split <- factor(table$split, levels = unique(c("train", "validation", unique(table$split))))
  splits <- levels(droplevels(table$split))
  colours <- stats::setNames(c("#1f77b4", "#d62728", cellwak_palette(10)[3:10])[seq_along(levels(table$split))],
                             levels(table$split))
  positive <- all(table$value > 0)
  log_y <- positive && max(table$value) / min(table$value) > 20
  best <- do.call(rbind, lapply(split(table[table$split == "validation", ], ~stage, drop = TRUE),
                                function(d) d[which.min(d$value), , drop = FALSE]))
  stage_names <- stats::setNames(levels(table$stage), levels(table$stage))
  if (!is.null(best) && nrow(best)) {   # each panel names its best held-out loss
    stage_names[as.character(best$stage)] <- sprintf("%s\nbest validation %.4g (epoch %d)", best$stage, best$value,
                                                     as.integer(best$epoch))
  }
  p <- ggplot(table, aes(epoch, value, colour = split)) +
    geom_line(linewidth = 0.7) +
    geom_point(size = if (max(table$epoch) > 60) 0 else 1.2) +
    scale_colour_manual(values = colours, name = NULL, drop = TRUE) +
    facet_wrap(~stage, scales = "free", nrow = 1, labeller = labeller(stage = stage_names)) +
    labs(x = "epoch", y = opt(opts, "metric", "loss"), title = opt(opts, "title", NULL),
         subtitle = opt(opts, "subtitle", NULL)) +
    theme_cellwak() + theme(legend.position = "top", legend.justification = "left",
                            panel.spacing = unit(1.2, "lines"), strip.text = element_text(face = "bold", hjust = 0, lineheight = 1.05))
  if (!is.null(best) && nrow(best)) {
    p <- p + geom_point(data = best, shape = 21, size = 3, stroke = 0.8, fill = NA, colour = "black",
                        show.legend = FALSE)
  }
  if (log_y) p <- p + scale_y_log10()
  n_stage <- nlevels(table$stage)
  cellwak_save(function() print(p), opt(opts, "out"), as.numeric(opt(opts, "width", min(14, 1.5 + 4 * n_stage))),
               as.numeric(opt(opts, "height", 4.4)), as.numeric(opt(opts, "dpi", 150)))
}

if (cellwak_is_script()) cellwak_cli(plot_loss)
