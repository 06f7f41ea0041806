"""The look every crosstune page shares: the analysis report and the probes' pages."""

STYLE = """<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } .verdict, .lead { background: #eef5ff; padding: 1em; border-radius: 6px; }
img { max-width: 100%; } .notes { color: #a33; }
</style>"""
