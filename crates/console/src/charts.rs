//! Charts drawn on the server as inline SVG: no script, no chart library, nothing for the
//! browser to compute, and every label escaped. Colours come from classes in the style sheet
//! (the Content Security Policy allows no inline styles).

use std::fmt::Write;

/// Escapes text for SVG/HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Horizontal bars, one per labelled value, largest scale to the widest bar.
pub(crate) fn bars(title: &str, rows: &[(String, u64)]) -> String {
    const WIDTH: u32 = 560;
    const LABEL: u32 = 200;
    const ROW: u32 = 22;
    let height = (rows.len().max(1) as u32) * ROW + 8;
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    if rows.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="4" y="18" class="chart-label">no data</text>"#
        );
    }
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = i as u32 * ROW + 4;
        let bar = ((*value as f64 / max as f64) * f64::from(WIDTH - LABEL - 70)).round() as u32;
        let short: String = label.chars().take(28).collect();
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" class="chart-label" text-anchor="end">{}</text><rect x="{LABEL}" y="{y}" width="{}" height="{}" class="bar"><title>{}: {value}</title></rect><text x="{}" y="{}" class="chart-value">{value}</text>"#,
            LABEL - 6,
            y + 14,
            escape(&short),
            bar.max(1),
            ROW - 6,
            escape(label),
            LABEL + bar + 6,
            y + 14,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The severity classes, lowest first, stacked bottom to top.
pub(crate) const SEVERITIES: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// Stacked columns per day, one segment per severity.
pub(crate) fn trend(title: &str, days: &[(String, [u64; 5])]) -> String {
    const WIDTH: u32 = 560;
    const HEIGHT: u32 = 160;
    const AXIS: u32 = 20;
    let n = days.len().max(1) as u32;
    let column = (WIDTH - 40) / n;
    let max = days
        .iter()
        .map(|(_, c)| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = f64::from(HEIGHT - AXIS - 14);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{}</title><text x="0" y="12" class="chart-value">{max}</text>"#,
        escape(title),
        escape(title)
    );
    for (i, (day, counts)) in days.iter().enumerate() {
        let x = 36 + i as u32 * column;
        let mut top = f64::from(HEIGHT - AXIS);
        for (s, count) in counts.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let h = (*count as f64 / max as f64) * plot;
            top -= h;
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{:.1}" width="{}" height="{:.1}" class="sev-{}"><title>{}: {count} {}</title></rect>"#,
                top,
                column.saturating_sub(3).max(1),
                h,
                SEVERITIES[s],
                escape(day),
                SEVERITIES[s],
            );
        }
        if days.len() <= 16 || i % 2 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{}" y="{}" class="chart-label" text-anchor="middle">{}</text>"#,
                x + column / 2,
                HEIGHT - 6,
                escape(day.get(5..).unwrap_or(day)),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale_to_the_largest() {
        let svg = bars(
            "Events per source",
            &[("<script>".into(), 10), ("b".into(), 5)],
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains(r#"width="290""#), "{svg}");
        assert!(svg.contains(r#"width="145""#), "{svg}");
    }

    #[test]
    fn trend_stacks_each_severity() {
        let svg = trend("Trend", &[("2026-11-28".into(), [0, 1, 0, 2, 1])]);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("sev-high"));
    }
}
