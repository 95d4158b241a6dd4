//! CSV and SVG helpers (plain string building).

use crate::NodeId;
use crate::topology::{Layout, Position};
use std::fmt::Write as _;

/// A CSV table built row by row (RFC 4180 quoting).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Csv {
    out: String,
    columns: usize,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Csv {
    /// A table with this header row.
    pub fn new(header: &[&str]) -> Self {
        let mut c = Csv {
            out: String::new(),
            columns: header.len(),
        };
        c.push_line(header.iter().map(|s| s.to_string()));
        c
    }

    fn push_line(&mut self, fields: impl Iterator<Item = String>) {
        let line: Vec<String> = fields.map(|f| csv_field(&f)).collect();
        self.out.push_str(&line.join(","));
        self.out.push('\n');
    }

    /// Appends a row; missing fields are left empty, extra ones are kept.
    pub fn row<I, T>(&mut self, fields: I)
    where
        I: IntoIterator<Item = T>,
        T: ToString,
    {
        let mut v: Vec<String> = fields.into_iter().map(|f| f.to_string()).collect();
        while v.len() < self.columns {
            v.push(String::new());
        }
        self.push_line(v.into_iter());
    }

    /// The table text.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The table text, consumed.
    pub fn into_string(self) -> String {
        self.out
    }
}

/// One row per node: `node,x,y` plus the given extra columns.
pub fn nodes_csv(layout: &Layout) -> Csv {
    let mut c = Csv::new(&["node", "x_m", "y_m"]);
    for (i, p) in layout.positions.iter().enumerate() {
        c.row([i.to_string(), format!("{:.2}", p.x), format!("{:.2}", p.y)]);
    }
    c
}

/// An SVG drawing of nodes at their positions with edges between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Svg {
    positions: Vec<Position>,
    scale: f64,
    margin: f64,
    origin: Position,
    width: f64,
    height: f64,
    edges: String,
    nodes: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Svg {
    /// A drawing of `layout` scaled to fit about `size_px` pixels on its longer side.
    pub fn new(layout: &Layout, size_px: f64) -> Self {
        let (lo, hi) = layout.bounds();
        let span = (hi.x - lo.x).max(hi.y - lo.y).max(1.0);
        let scale = size_px / span;
        let margin = 20.0;
        Svg {
            positions: layout.positions.clone(),
            scale,
            margin,
            origin: lo,
            width: (hi.x - lo.x) * scale + 2.0 * margin,
            height: (hi.y - lo.y) * scale + 2.0 * margin,
            edges: String::new(),
            nodes: String::new(),
        }
    }

    fn px(&self, id: NodeId) -> Option<(f64, f64)> {
        let p = self.positions.get(id.index())?;
        Some((
            (p.x - self.origin.x) * self.scale + self.margin,
            // SVG y grows downwards; north is up.
            self.height - ((p.y - self.origin.y) * self.scale + self.margin),
        ))
    }

    /// Draws an edge `a — b` in `color` (any SVG colour); unknown nodes are skipped.
    pub fn edge(&mut self, a: NodeId, b: NodeId, color: &str) -> &mut Self {
        if let (Some((x1, y1)), Some((x2, y2))) = (self.px(a), self.px(b)) {
            let _ = writeln!(
                self.edges,
                r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="1"/>"#,
                escape(color)
            );
        }
        self
    }

    /// Draws an arrow from child `a` to parent `b` (a DODAG parent edge).
    pub fn arrow(&mut self, a: NodeId, b: NodeId, color: &str) -> &mut Self {
        if let (Some((x1, y1)), Some((x2, y2))) = (self.px(a), self.px(b)) {
            let _ = writeln!(
                self.edges,
                r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="1.5" marker-end="url(#arrow)"/>"#,
                escape(color)
            );
        }
        self
    }

    /// Draws a node as a circle filled with `color`, with a label and a hover title.
    pub fn node(&mut self, id: NodeId, label: &str, color: &str) -> &mut Self {
        if let Some((x, y)) = self.px(id) {
            let _ = writeln!(
                self.nodes,
                r#"<g><title>{}</title><circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{}" stroke="black" stroke-width="0.5"/><text x="{:.1}" y="{:.1}" font-size="9">{}</text></g>"#,
                escape(label),
                escape(color),
                x + 6.0,
                y - 6.0,
                escape(label)
            );
        }
        self
    }

    /// The SVG document.
    pub fn render(&self) -> String {
        format!(
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}">"#,
                "\n",
                r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="14" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>"#,
                "\n",
                r#"<rect width="100%" height="100%" fill="white"/>"#,
                "\n{edges}{nodes}</svg>\n"
            ),
            w = self.width,
            h = self.height,
            edges = self.edges,
            nodes = self.nodes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_pads() {
        let mut c = Csv::new(&["a", "b", "c"]);
        c.row(["1", "x,y"]);
        c.row(["say \"hi\"", "2", "3"]);
        assert_eq!(c.as_str(), "a,b,c\n1,\"x,y\",\n\"say \"\"hi\"\"\",2,3\n");
        let n = nodes_csv(&Layout::line(2, 10.0));
        assert_eq!(n.as_str(), "node,x_m,y_m\n0,0.00,0.00\n1,10.00,0.00\n");
    }

    #[test]
    fn svg_places_nodes_and_edges() {
        let l = Layout::line(3, 50.0);
        let mut s = Svg::new(&l, 100.0);
        s.edge(NodeId(0), NodeId(1), "gray")
            .arrow(NodeId(2), NodeId(1), "blue")
            .node(NodeId(0), "relay <0>", "red")
            .node(NodeId(9), "missing", "red");
        let out = s.render();
        assert!(out.starts_with("<svg "));
        assert!(out.contains(r#"<line x1="20.0" y1="20.0" x2="70.0" y2="20.0""#));
        assert!(out.contains("marker-end"));
        assert!(out.contains("relay &lt;0&gt;"));
        assert!(!out.contains("missing"));
        assert_eq!(out.matches("<circle").count(), 1);
    }
}
