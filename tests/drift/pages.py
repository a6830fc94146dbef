"""HTML pages for the drift tests: one cited article and what became of it.

Written by hand to look like real pages: navigation, header, sidebar, footer, scripts, a
cookie banner; the main text is a few paragraphs of prose.
"""

from __future__ import annotations

ARTICLE_TITLE = "Soil bacteria break down plastic faster than expected | Field Notes"

PARAGRAPHS = [
    "Researchers at the coastal field station report that a common soil bacterium, found in "
    "compost heaps across northern Europe, breaks down polyethylene film within eleven weeks "
    "under warm and humid conditions, far sooner than the decades usually assumed.",
    "The team buried strips of shopping bag film in sealed trays of garden soil and measured "
    "their weight every fortnight. Trays inoculated with the bacterium lost forty two percent "
    "of their plastic mass, while sterile control trays lost almost nothing over the season.",
    "Lead author Maria Lindqvist said the enzyme responsible oxidises the long carbon chains at "
    "their ends, after which ordinary fungi finish the job. She cautioned that the process "
    "slows sharply below fifteen degrees, so cold landfills would see little benefit.",
    "Independent microbiologists called the measurements careful but asked for field trials "
    "outside the laboratory, noting that real waste contains dyes, additives and other "
    "plastics that may poison the microbes or simply be ignored by the enzyme.",
    "The station plans a two year trial at a municipal composting plant, where shredded film "
    "will be mixed into green waste. Results are expected in the spring after next, and the "
    "strain has been deposited in the national culture collection for other groups to test.",
    "Funding came from the regional environment agency and a consortium of packaging firms, "
    "which the authors say had no role in the design of the experiments or the analysis of "
    "the data reported in the paper published this week.",
]

REWRITTEN = [
    "An updated report from the coastal field station revisits its claim about soil bacteria "
    "and polyethylene. After a larger trial, the station now says degradation takes closer to "
    "eight months, and only in heated composting tunnels.",
    "Critics had questioned the original weighing method, because moisture trapped in the film "
    "made the strips look lighter than they were. The new trial dried every sample before "
    "weighing and found the real mass loss was nearer twelve percent.",
    "Maria Lindqvist, who led both studies, said the enzyme still works but far more slowly "
    "than first thought, and that municipal plants would need to keep piles above fifty "
    "degrees for most of the year to see any effect on packaging waste.",
    "Packaging firms that funded the work have withdrawn from the consortium, and the regional "
    "agency has asked for the trial data to be published in full before any further grants "
    "are considered for scaling up the process.",
]

UNRELATED = [
    "Our summer menu brings back the grilled halloumi salad with watermelon and mint, along "
    "with three new cocktails built around elderflower, rhubarb and smoked rosemary syrups.",
    "Book a table for groups of eight or more through the reservations page, and ask about the "
    "private dining room upstairs, which seats twenty guests for birthdays and rehearsals.",
    "Our kitchen closes at ten on weekdays and at eleven on Fridays and Saturdays. Brunch is "
    "served on Sundays from nine until two, with bottomless coffee and fresh orange juice.",
    "Gift vouchers are available at the bar in any amount, never expire, and can be used "
    "across all three of our restaurants in the old town and by the harbour.",
]

PARKED = (
    "<!doctype html><html><head><title>fieldnotes-example.com is for sale</title>"
    "<script>var ads = 1;</script></head><body>"
    "<div class='domain'><h1>fieldnotes-example.com</h1>"
    "<p>This domain may be for sale. Buy this domain today.</p>"
    "<p><a href='/related'>Related searches</a></p></div></body></html>"
)

COMMENTS = [
    "Fascinating! Does anyone know whether this works in a home compost bin?",
    "I would like to see the raw data before getting excited, the sample sizes are small.",
    "We tried something similar at our allotment with no luck, but our heap was cold.",
    "Great write-up, shared it with my students in the environmental science class.",
    "Wonder how the packaging industry will spin this one. Follow the money.",
]


def page(
    title: str,
    paragraphs: list[str],
    *,
    sidebar: list[str] | None = None,
    comments: list[str] | None = None,
    banner: str = "We use cookies to improve your experience. Accept all cookies?",
) -> str:
    side = (
        sidebar
        if sidebar is not None
        else [
            "Most read: Ten houseplants that survive any office",
            "Most read: Why the river froze twice this winter",
            "Newsletter: get Field Notes in your inbox every Friday",
        ]
    )
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    side_html = "".join(f"<li><a href='/x'>{s}</a></li>" for s in side)
    comments_html = ""
    if comments:
        items = "".join(
            f"<li class='comment'><p class='comment-author'>Reader {i}</p><p>{c}</p></li>"
            for i, c in enumerate(comments, 1)
        )
        comments_html = (
            "<section id='comments' class='comments-area'><h2>Comments</h2>"
            f"<ol class='comment-list'>{items}</ol></section>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: serif; }} .nav a {{ color: red; }}</style>
<script>window.analytics = {{track: function() {{}}}}; analytics.track('view');</script>
</head><body>
<div id="cookie-banner" class="cookie-banner">{banner} <button>Accept</button></div>
<header class="site-header"><a href="/">Field Notes</a>
<nav class="nav"><a href="/science">Science</a> <a href="/nature">Nature</a>
<a href="/about">About us</a> <a href="/subscribe">Subscribe</a></nav></header>
<main><article class="post"><h1>{title.split(" | ")[0]}</h1>
<p class="byline">By the Field Notes science desk</p>
{body}
</article>
{comments_html}
</main>
<aside class="sidebar"><h3>Elsewhere</h3><ul>{side_html}</ul></aside>
<footer class="site-footer"><p>Copyright Field Notes. All rights reserved.</p>
<a href="/privacy">Privacy policy</a> <a href="/terms">Terms</a></footer>
<script>console.log('footer');</script>
</body></html>
"""


def original() -> str:
    return page(ARTICLE_TITLE, PARAGRAPHS)


def with_comments_and_new_sidebar() -> str:
    return page(
        ARTICLE_TITLE,
        PARAGRAPHS,
        sidebar=[
            "Trending: The best trail running shoes of the year",
            "Trending: A beginner's guide to sourdough starters",
            "Podcast: Episode 112, the secret life of moss",
            "Shop: Field Notes tote bags and mugs",
        ],
        comments=COMMENTS,
        banner="This site uses cookies and similar technologies. Manage your consent settings.",
    )


def rewritten() -> str:
    return page("Soil bacteria and plastic: the slower truth | Field Notes", REWRITTEN)


def unrelated() -> str:
    return page("Summer menu | The Harbour Kitchen", UNRELATED)


def parked() -> str:
    return PARKED
