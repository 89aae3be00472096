# Known interactions (STRING or a pair table) among the perturbed genes, laid out by igraph
# (Fruchterman-Reingold, seeded): a node per gene, coloured by the cluster its cells are most
# enriched in; an edge per interacting pair, solid and dark when both genes have that cluster
# (co-membership), dashed and light otherwise.
# Table: a, b (gene names), cluster_a, cluster_b, optionally same (TRUE when they share the
# cluster), r (correlation of the two genes' cluster profiles), weight.
#   Rscript r/plot_network.R --in pairs.csv --out network.svg

if (!exists("cellwak_save", mode = "function")) {
  local({
    file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
    source(file.path(dirname(normalizePath(file[1])), "plot_common.R"))
  })
}

plot_network <- function(table, opts = list()) {
  require_columns(table, c("a", "b", "cluster_a", "cluster_b"), "interaction")
  if (!nrow(table)) stop("no interacting pairs to draw")
  table$a <- as.character(table$a); table$b <- as.character(table$b)
  if (!"same" %in% names(table)) table$same <- as.character(table$cluster_a) == as.character(table$cluster_b)
  table$same <- as.logical(table$same) %in% TRUE
  nodes <- unique(data.frame(name = c(table$a, table$b), cluster = as.character(c(table$cluster_a, table$cluster_b))))
  nodes <- nodes[!duplicated(nodes$name), ]
  g <- igraph::graph_from_data_frame(table[, c("a", "b")], directed = FALSE, vertices = nodes)
  set.seed(as.integer(opt(opts, "seed", 1)))
  xy <- igraph::layout_with_fr(g, niter = 1000)
  nodes$x <- xy[, 1]; nodes$y <- xy[, 2]
  nodes$degree <- igraph::degree(g)
  edges <- table
  edges$x <- nodes$x[match(edges$a, nodes$name)]; edges$y <- nodes$y[match(edges$a, nodes$name)]
  edges$xend <- nodes$x[match(edges$b, nodes$name)]; edges$yend <- nodes$y[match(edges$b, nodes$name)]
  edges$kind <- factor(ifelse(edges$same, "same cluster", "different clusters"),
                       levels = c("same cluster", "different clusters"))
  cl <- unique(nodes$cluster); num <- suppressWarnings(as.numeric(cl))
  lev <- if (!anyNA(num)) cl[order(num)] else sort(cl)
  nodes$cluster <- factor(nodes$cluster, levels = lev)
  n_same <- sum(table$same)
  p <- ggplot() +
    geom_segment(data = edges, aes(x = x, y = y, xend = xend, yend = yend, linetype = kind, colour = kind,
                                   linewidth = kind)) +
    scale_linetype_manual(values = c("same cluster" = "solid", "different clusters" = "22"), name = "interaction",
                          drop = FALSE) +
    scale_colour_manual(values = c("same cluster" = "grey15", "different clusters" = "grey70"), name = "interaction",
                        drop = FALSE) +
    scale_linewidth_manual(values = c("same cluster" = 0.9, "different clusters" = 0.4), name = "interaction",
                           drop = FALSE) +
    ggnewscale_free_fill(nodes, lev) +
    ggrepel::geom_text_repel(data = nodes, aes(x, y, label = name), size = 2.9, seed = 1, max.overlaps = Inf,
                             point.padding = unit(0.25, "lines"), box.padding = unit(0.3, "lines"),
                             min.segment.length = 0.4, segment.colour = "grey60") +
    coord_cartesian(clip = "off") +
    labs(title = opt(opts, "title", NULL),
         subtitle = opt(opts, "subtitle", sprintf("%d genes, %d known interactions, %d within one cluster",
                                                  nrow(nodes), nrow(table), n_same))) +
    theme_cellwak() + theme(axis.text = element_blank(), axis.title = element_blank(), axis.ticks = element_blank(),
                            axis.line = element_blank(), panel.grid.major = element_blank())
  cellwak_save(function() print(p), opt(opts, "out"), as.numeric(opt(opts, "width", 8)),
               as.numeric(opt(opts, "height", 6.5)), as.numeric(opt(opts, "dpi", 150)))
}

# nodes as filled circles (fill = cluster) so that the edges keep their own colour scale
ggnewscale_free_fill <- function(nodes, lev) {
  list(geom_point(data = nodes, aes(x, y, fill = cluster, size = degree), shape = 21, colour = "white", stroke = 0.6),
       scale_fill_manual(values = named_palette(lev), name = "cluster of\nthe gene", drop = FALSE,
                         guide = guide_legend(override.aes = list(size = 3.5))),
       scale_size_continuous(range = c(2.5, 6), name = "interactions", guide = "none"))
}

if (cellwak_is_script()) cellwak_cli(plot_network)
