# ruff: noqa: E501  (regular-expression tables read better unbroken)
"""Content rules for extensions that more than one language claims (`.h`, `.m`, `.pl`, `.v`, ...).

Linguist's table (`core.linguist_table`) says which languages share an extension; these rules say
which one a file is, from its first few KB. Each extension has an ordered list of (language,
pattern): the first language whose pattern matches the head wins, provided it is one of the
extension's claimants. `None` as a language means "a data or prose format, not code" (a Qt
translation `.ts` is XML). No rule matching means the file stays unlabelled: an extension alone
never picks a language (issue 11: Hack `.hh` read as C++, MUMPS `.m` as Objective-C).

The rules are ours, written from each language's public syntax: a pattern is a construct that
language needs and its rivals on that extension do not use, so order goes from the most
distinctive language to the most permissive.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from types import MappingProxyType

_M = re.MULTILINE
_MI = re.MULTILINE | re.IGNORECASE


class Marker:
    """Signs of one language: any of `patterns` found in the head.

    Several patterns rather than one alternation: Python's `re` skips ahead to a literal prefix only
    when the whole pattern starts with one, so `^[ \t]*(?:...)|NSString` scans every position with
    every branch (~40x slower on a 4 KB head than two searches).
    """

    __slots__ = ("patterns",)

    def __init__(self, *patterns: re.Pattern[str]) -> None:
        self.patterns = patterns

    def search(self, text: str) -> bool:
        return any(pattern.search(text) for pattern in self.patterns)


Rule = tuple[str | None, Marker]


def _rx(*patterns: str, flags: int = _M) -> Marker:
    return Marker(*(re.compile(pattern, flags) for pattern in patterns))


# Shared constructs, each a positive sign of one language.
_OBJC = _rx(
    r"^[ \t]*(?:@(?:interface|implementation|protocol|end|property)\b|@(?:class|import)\s|#[ \t]*import[ \t]*[<\"])",
    r"NS(?:_ASSUME_NONNULL_BEGIN|String[ \t]*\*|Object)\b",
)
_CPP = _rx(
    r"^[ \t]*(?:namespace\s+\w|template\s*<|using\s+namespace\b|using\s+\w+\s*=|class\s+\w+[^;\n]*[{:][ \t]*$|"
    r"(?:public|private|protected)\s*:|(?:constexpr|static_assert)\b|virtual\s+\w)",
    r"std::|nullptr\b|::[ \t]*~\w+[ \t]*\(",
)
_C = _rx(
    r"^[ \t]*(?:#\s*(?:include|define|ifndef|ifdef|if|pragma|undef|endif|error)\b|"
    r"(?:typedef|struct|enum|union|extern|static|const|void|int|char|unsigned|long|double|float|bool)\b)|"
    r"^[ \t]*/\*"
)
_C_PREPROCESSOR = _rx(r"^[ \t]*#\s*(?:include|define|ifndef|ifdef|if|pragma|undef|endif)\b")
# A bare `<? ` counts only at a line start: generated C++ (`Ops.h.inc`) has it inside text.
_PHP = _rx(r"<\?(?:php\b|=)", r"^[ \t]*<\?\s")
_HACK = _rx(r"^<\?hh\b")
_XML = _rx(r"\A\s*(?:<\?xml\b|<!DOCTYPE\s+\w+|<TS\s+version=)")
_JS_OR_TS = _rx(
    r"^[ \t]*(?:import\s|export\s|const\s|let\s|var\s|function\b|class\s|interface\s|type\s+\w+|declare\s|"
    r"namespace\s|enum\s|abstract\s|async\s|@\w+|//|/\*|\}|module\.exports|require\s*\()",
    r"=>|;[ \t]*$",
)
_PERL = _rx(
    r"^[ \t]*(?:use\s+(?:strict|warnings|lib|vars|constant|base|parent|[A-Z][\w:]*)\b|my\s+[$@%(]|our\s+[$@%]|"
    r"sub\s+\w+\s*\{|package\s+[\w:]+\s*;|require\s+[\w:]+\s*;|BEGIN\s*\{|__END__$|=head1\b|=pod\b|"
    r"done_testing\b|local\s+\$)",
    r"^1;\s*$",
)
_RAKU = _rx(
    r"^[ \t]*(?:use\s+v6\b|unit\s+(?:module|class|role|grammar|sub)\b|(?:class|role|grammar)\s+[\w:]+(?:\s+is\s+\w+)?"
    r"\s*\{|has\s+[$@%][.!]\w|method\s+[\w-]+\s*[({]|multi\s+(?:sub|method)\b|sub\s+MAIN\b|done-testing\b|"
    r"plan\s+\d+\s*;|my\s+(?:Int|Str|Num|Bool|Array|Hash)\b)"
)
_PROLOG = _rx(r"^[ \t]*:-\s*\w|^[a-z]\w*(?:\([^)]*\))?\s*:-")
_MATLAB = _rx(
    r"^[ \t]*(?:function\s+(?:\[[^\]]*\]|\w+)\s*=|function\s+\w+\s*\(|%[%{ ]|%$|end\s*;?\s*$|"
    r"(?:disp|fprintf|zeros|ones|plot|figure)\s*\()"
)
_MERCURY = _rx(
    r"^[ \t]*:-\s*(?:module|interface|implementation|import_module|use_module|pred|func|mode|type)\b"
)
_LIMBO = _rx(r"^[ \t]*(?:implement\s+\w+\s*;|include\s+\"[\w/]+\.m\"\s*;)|^[ \t]*\w+\s*:\s*module\s*$")
# MUMPS: a routine line is a label at column 0 or a command after leading white space; commands are
# short upper-case keywords (or one letter) followed by a space, optionally post-conditioned `:cond`.
_MUMPS = _rx(
    r"^(?:[%A-Z][A-Z0-9]*(?:\([^)]*\))?)?[ \t]+(?:S|SET|Q|QUIT|W|WRITE|D|DO|N|NEW|I|IF|K|KILL|G|GOTO|F|FOR)"
    r"(?::[^ \t]+)?[ \t]+[^=\s]"
)
_WOLFRAM = _rx(r"^[ \t]*(?:BeginPackage|Begin|EndPackage|Needs)\[|\w+\[[^\]]*_\]\s*:?=")
_COQ = _rx(
    r"^[ \t]*(?:Require\s+(?:Import|Export)\b|From\s+\w+\s+Require\b|Theorem\s|Lemma\s|Proof\.|Qed\.|"
    r"Definition\s|Inductive\s|Fixpoint\s|Module\s+\w+\.|Set\s+Implicit\b)"
)
_VERILOG = _rx(
    r"^[ \t]*(?:module\s+\w+\s*(?:#\s*\(|\(|;)|endmodule\b|`(?:timescale|define|include|ifdef)\b|always\s*@|"
    r"(?:input|output|inout)\s+(?:wire|reg|\[)|assign\s+\w+|reg\s+(?:\[|\w)|wire\s+(?:\[|\w))"
)
_VLANG = _rx(
    r"^[ \t]*(?:module\s+\w+\s*$|fn\s+(?:\(\w+\s+&?\w+\)\s*)?\w+\s*\(|pub\s+(?:fn|struct|const|mut)\b|"
    r"import\s+[\w.]+\s*$|struct\s+\w+\s*\{|mut\s+\w+\s*:=|\w+\s*:=)"
)
_PASCAL = _rx(
    r"^[ \t]*(?:unit\s+\w+\s*;|program\s+\w+\s*;|library\s+\w+\s*;|interface\s*$|implementation\s*$|uses\s+\w|"
    r"procedure\s+[\w.]+\s*[(;]|function\s+[\w.]+\s*[(:]|begin\s*$|end\s*[;.]\s*$|var\s*$|\{\$)",
    flags=_MI,
)
_ASSEMBLY = _rx(
    r"^[ \t]*(?:%(?:define|macro|include|ifdef|ifndef|assign)\b|\.(?:macro|equ|set|include|globl|global|"
    r"section|text|data|byte|word|long|align)\b|[A-Za-z_]\w*\s+(?:equ|EQU)\b|(?:mov|push|pop|jmp|call|ret|"
    r"lea|ldr|str|add|sub)\s)"
)
_FSHARP = _rx(
    r"^[ \t]*(?:open\s+[A-Z][\w.]*\s*$|module\s+[A-Z][\w.]*|namespace\s+[A-Z]|let\s+(?:rec\s+|mutable\s+|"
    r"inline\s+|private\s+)?[\w(]|type\s+\w+|\[<\w+|member\s+\w)"
)
_GLSL = _rx(
    r"^[ \t]*(?:#version\s+\d+|uniform\s|varying\s|attribute\s|in\s+(?:vec|float|mat)|out\s+(?:vec|float)|"
    r"layout\s*\(|precision\s+(?:highp|mediump|lowp)|void\s+main\s*\()|\bgl_(?:FragColor|Position|FragCoord)\b"
)
_FORTH = _rx(r"^[ \t]*:\s+\S+.*(?:;\s*$|\()|^\\\s|^\(\s.*\)\s*$")
_FORTRAN = _rx(
    r"^(?:[cC*]\s|!)|^\s+(?:program|subroutine|function|module|end|integer|real|double|implicit|call|do|if|"
    r"common|parameter|character|logical|dimension|data|write|read|format|return|stop|use)\b",
    flags=_MI,
)
_ROFF = _rx(
    r"^\.(?:TH|SH|SS|PP|LP|IP|TP|HP|B|I|BR|RB|IR|BI|de|so|nr|ds|if|ie|ft|sp|br|nf|fi|in|ti|TL|AU|NH|Dd|Dt|Nm|"
    r"Os|Sh)\b|^\.\\\"|^'\\\""
)
_TEX = _rx(
    r"\\(?:NeedsTeXFormat|ProvidesClass|ProvidesPackage|LoadClass|DeclareOption|ProcessOptions|def\\|"
    r"newcommand|documentclass|RequirePackage|contentsline)\b"
)
_SHELL_ASSIGN = _rx(r"^[ \t]*(?:[A-Za-z_]\w*=|export\s|if\s|for\s|case\s|\w+\s*\(\)\s*\{)")


def _rules(*pairs: Rule) -> tuple[Rule, ...]:
    return pairs


# fmt: off
RULES: Mapping[str, tuple[Rule, ...]] = MappingProxyType(
    {
        ".h": _rules(("objective-c", _OBJC), ("cpp", _CPP), ("c", _C)),
        ".hh": _rules(("hack", _HACK), ("cpp", _C), ("cpp", _CPP)),
        ".m": _rules(
            ("objective-c", _OBJC),
            ("objective-c", _C_PREPROCESSOR),
            ("mercury", _MERCURY),
            ("limbo", _LIMBO),
            ("wolfram-language", _WOLFRAM),
            ("matlab", _MATLAB),
            ("m", _MUMPS),
        ),
        ".mm": _rules((None, _XML), ("objective-c", _OBJC), ("objective-c", _C)),
        ".pl": _rules(("raku", _RAKU), ("prolog", _PROLOG), ("perl", _PERL)),
        ".pm": _rules(
            (None, _rx(r"/\*\s*XPM\s*\*/|static\s+char\s*\*\s*\w+\[\]")), ("raku", _RAKU), ("perl", _PERL)
        ),
        ".t": _rules(
            ("raku", _RAKU),
            ("perl", _PERL),
            ("perl", _rx(r"^[ \t]*(?:ok|is|isnt|like|unlike|is_deeply|cmp_ok|plan)\s*\(?")),
            ("terra", _rx(r"^[ \t]*terra\s+\w+\s*\(")),
            ("turing", _rx(r"^[ \t]*(?:put\s|var\s+\w+\s*:|proc\s+\w+|end\s+(?:if|loop|for)\b)")),
        ),
        ".v": _rules(("rocq-prover", _COQ), ("verilog", _VERILOG), ("v", _VLANG)),
        ".php": _rules(("hack", _HACK), ("php", _PHP)),
        ".inc": _rules(
            ("php", _PHP),
            ("pov-ray-sdl", _rx(r"^[ \t]*#(?:declare|local|macro|version\s+\d)\b")),
            ("sourcepawn", _rx(r"#include\s*<sourcemod>|^[ \t]*(?:native|forward|stock)\s")),
            ("bitbake", _rx(r"^[ \t]*(?:inherit\s|require\s|[A-Z][A-Z_]*(?::\w+)?\s*[?+.:]*=\s*\")")),
            ("cpp", _C_PREPROCESSOR),
            ("pascal", _PASCAL),
            ("assembly", _ASSEMBLY),
            ("sql", _rx(r"^[ \t]*(?:CREATE|INSERT|SELECT|DROP|ALTER|UPDATE)\s", flags=_MI)),
            ("html", _rx(r"^[ \t]*<(?:!DOCTYPE|html|head|body|div|table|tr|td|p|script|link|meta|span|ul|li|a)\b", flags=_MI)),
            ("cpp", _C),
        ),
        ".cls": _rules(
            ("tex", _TEX),
            ("vba", _rx(r"^VERSION\s+\d\.\d+\s+CLASS|^Attribute\s+VB_")),
            ("objectscript", _rx(r"^Class\s+[\w.%]+|^[ \t]*(?:ClassMethod|Method|Property)\s+\w")),
            ("openedge-abl", _rx(r"^[ \t]*(?:CLASS|USING)\s+[\w.]+.*:\s*$|END\s+CLASS\s*\.", flags=_MI)),
            ("apex", _rx(r"\b(?:public|private|global|protected)\s+(?:(?:with|without|inherited)\s+sharing\s+)?"
                          r"(?:virtual\s+|abstract\s+)?class\s+\w+", flags=_MI)),
        ),
        ".fs": _rules(
            ("glsl", _GLSL),
            ("filterscript", _rx(r"^[ \t]*#pragma\s+(?:rs|version)\b")),
            ("fsharp", _FSHARP),
            ("forth", _FORTH),
        ),
        ".ts": _rules((None, _XML), ("typescript", _JS_OR_TS)),
        ".tsx": _rules((None, _XML), ("typescript", _JS_OR_TS)),
        ".md": _rules(
            ("gcc-machine-description", _rx(r"^[ \t]*\(define_[a-z_]+\b|\A(?:;;[^\n]*\n)+\s*\(")),
            # Any text is valid Markdown; the only rival is GCC's Lisp-like machine description.
            ("markdown", _rx(r"\S")),
        ),
        ".r": _rules(
            ("rebol", _rx(r"\bREBOL\s*\[", flags=_MI)),
            ("rez", _rx(r"^[ \t]*(?:resource|type|data)\s+'\w{4}'")),
            ("r", _rx(r"<-|\bfunction\s*\(|\blibrary\s*\(|\brequire\s*\(|^[ \t]*#|\bc\(|<<-|%>%|\$\w")),
        ),
        ".rs": _rules(
            (None, _XML),
            ("renderscript", _rx(r"^[ \t]*#pragma\s+(?:rs|version)\b")),
            ("rust", _rx(r"^[ \t]*(?:(?:pub(?:\([\w:]+\))?\s+)?(?:fn|use|mod|struct|enum|impl|trait|const|static|type|"
                         r"unsafe|async|extern)\b|let\s|#!?\[|//|/\*|macro_rules!)")),
        ),
        ".cs": _rules(
            ("smalltalk", _rx(r"\bsubclass:\s*#\w|instanceVariableNames:|^!\w+\s+methodsFor:")),
            ("csharp", _rx(r"^[ \t]*(?:using\s+[\w.=\s]+;|namespace\s|(?:public|private|internal|protected|static|"
                           r"sealed|abstract|partial)\s|class\s|\[assembly|//|/\*|#(?:region|if|define|nullable))")),
        ),
        ".sol": _rules(
            (None, _rx(r"^%FS|^G04\s|^%MO|^X-?\d+Y-?\d+D0[123]\*")),
            ("solidity", _rx(r"\bpragma\s+solidity\b|^[ \t]*(?:contract|library|interface|abstract\s+contract)\s+\w+|"
                             r"SPDX-License-Identifier|^[ \t]*import\s+[\"{]")),
        ),
        ".pp": _rules(
            ("puppet", _rx(r"^[ \t]*(?:class\s+[\w:]+\s*(?:\(|\{|inherits)|define\s+[\w:]+|node\s+['\"\w]|"
                           r"include\s+[\w:]+\s*$|[a-z_:]+\s*\{\s*['\"$][^:\n]*:)")),
            ("pascal", _PASCAL),
        ),
        ".pro": _rules(
            ("qmake", _rx(r"^[ \t]*(?:QT|TEMPLATE|TARGET|SOURCES|HEADERS|CONFIG|FORMS|INCLUDEPATH|LIBS|DEFINES|"
                          r"SUBDIRS|RESOURCES|OTHER_FILES|DISTFILES)\s*[+\-*~]?=")),
            (None, _rx(r"^[ \t]*-(?:keep|dontwarn|keepclassmembers|keepattributes|dontobfuscate|optimizations)")),
            ("prolog", _PROLOG),
            ("idl", _rx(r"^[ \t]*(?:pro|function)\s+\w+\s*(?:,|$)", flags=_MI)),
            (None, _rx(r"^[ \t]*\[[^\]\n]+\]\s*$")),
        ),
        ".d": _rules(
            ("dtrace", _rx(r"^[ \t]*#pragma\s+D\b|^[ \t]*(?:syscall|proc|fbt|pid\$?\w*|profile|tick|sdt|io|sched|"
                           r"dtrace)(?::[\w*-]*){1,3}\s*(?:/|\{|$)")),
            ("makefile", _rx(r"^[\w./\\+-]+\.o\s*:|^[\w./\\+-]+\s*:(?:\s+[\w./\\+-]+)+\s*\\?\s*$")),
            ("d", _rx(r"^[ \t]*(?:module\s+[\w.]+\s*;|import\s+[\w.]+\s*[;:]|void\s+main\s*\(|@safe|@nogc|"
                      r"unittest\s*\{|auto\s+\w+\s*=|immutable\s|(?:public|private)\s*:)")),
        ),
        ".l": _rules(
            ("lex", _rx(r"^%%\s*$|^%\{|^%option\b")),
            ("roff", _ROFF),
            ("common-lisp", _rx(r"^[ \t]*\((?:defun|defmacro|defpackage|in-package|defvar|defparameter|defclass|"
                                r"defmethod|defgeneric|defstruct)\b")),
            ("picolisp", _rx(r"^[ \t]*\((?:de|dm|load|class|symbols)\s")),
        ),
        ".ml": _rules(
            ("standard-ml", _rx(r"^[ \t]*(?:structure|signature|functor|datatype)\s+\w|^[ \t]*fun\s+\w+.*=")),
            ("ocaml", _rx(r"^[ \t]*(?:let|open|module|type|external|exception|include|val)\s|;;|^[ \t]*\(\*")),
        ),
        ".cl": _rules(
            ("opencl", _rx(r"__kernel\b|\bkernel\s+void\b|__global\b|get_global_id\s*\(")),
            ("common-lisp", _rx(r"^[ \t]*\(\w")),
            ("cool", _rx(r"^[ \t]*class\s+\w+(?:\s+inherits\s+\w+)?\s*\{")),
        ),
        ".lisp": _rules(
            ("common-lisp", _rx(r"^[ \t]*\((?:defun|defmacro|defpackage|in-package|defvar|defparameter|defclass|"
                                r"defmethod|defgeneric|defstruct|eval-when|declaim|let|setf)\b")),
            ("newlisp", _rx(r"^[ \t]*\((?:define|context|constant)\b")),
        ),
        ".x": _rules(
            (None, _rx(r"\Axof\s")),
            ("logos", _rx(r"^%(?:hook|end|ctor|orig|group|init|subclass)\b")),
            ("linker-script", _rx(r"\b(?:SECTIONS|MEMORY|ENTRY|OUTPUT_FORMAT|OUTPUT_ARCH)\b")),
            ("rpc", _rx(r"^[ \t]*(?:program\s+\w+\s*\{|version\s+\w+\s*\{|%#)")),
        ),
        ".i": _rules(
            ("swig", _rx(r"^[ \t]*%(?:module|typemap|\{|feature|rename|apply|ignore|inline|extend|template)\b")),
            ("assembly", _ASSEMBLY),
        ),
        ".f": _rules(
            ("filebench-wml", _rx(r"^[ \t]*(?:define|set)\s+(?:file|fileset|process|\$)")),
            ("forth", _FORTH),
            ("fortran", _FORTRAN),
        ),
        ".for": _rules(("forth", _FORTH), ("fortran", _FORTRAN)),
        ".ex": _rules(
            ("euphoria", _rx(r"^[ \t]*(?:include\s+std/|global\s+(?:function|procedure)|procedure\s+\w+\s*\(|"
                             r"end\s+(?:procedure|function))")),
            ("elixir", _rx(r"^[ \t]*(?:defmodule|def|defp|defmacro|use|import|alias|require)\s|\|>|@moduledoc\b")),
        ),
        ".es": _rules(
            ("erlang", _rx(r"^-(?:module|export|define|include|record|spec|behaviou?r)\b|->\s*$")),
            ("javascript", _JS_OR_TS),
        ),
        ".html": _rules(
            ("ecmarkup", _rx(r"<emu-(?:clause|alg|grammar|intro|annex|table|note|production)\b")),
            ("html", _rx(r"<")),
        ),
        ".sc": _rules(
            ("supercollider", _rx(r"\b(?:SynthDef|Ndef|Pbind|SinOsc|Server\.default)\b|\.(?:ar|kr)\(|^[ \t]*~\w+\s*=")),
            ("scala", _rx(r"^[ \t]*(?:import\s|package\s|object\s|class\s|def\s|val\s|var\s|trait\s|case\s+class|"
                          r"@main|//|/\*)")),
        ),
        ".frag": _rules(("glsl", _GLSL), ("javascript", _JS_OR_TS)),
        ".gs": _rules(
            ("glsl", _GLSL),
            ("genie", _rx(r"^\[indent=\d+\]|^[ \t]*init\s*$")),
            ("gosu", _rx(r"^[ \t]*(?:uses|package)\s+[\w.]+\s*$")),
            ("javascript", _JS_OR_TS),
        ),
        ".shader": _rules(("shaderlab", _rx(r"^[ \t]*Shader\s+\"")), ("glsl", _GLSL)),
        ".tpl": _rules(
            ("go-template", _rx(r"\{\{-?\s*(?:define|template|if|range|end|with|block|\.)")),
            ("smarty", _rx(r"\{(?:if\s|foreach\s|assign\s|include\s|\$\w|/if\}|/foreach\}|literal\}|block\s)")),
        ),
        ".cake": _rules(
            ("csharp", _rx(r"^[ \t]*#(?:addin|tool|load)\b|\bTask\s*\(\"|\bArgument\s*(?:<\w+>)?\s*\(|;\s*$")),
            ("coffeescript", _rx(r"^[ \t]*task\s+['\"]|->\s*$")),
        ),
        ".re": _rules(
            ("cpp", _rx(r"/\*!re2c|^[ \t]*#\s*include\b")),
            ("reason", _rx(r"^[ \t]*(?:let|type|module|open|switch)\s|=>|^[ \t]*\[@")),
        ),
        ".cp": _rules(
            ("component-pascal", _rx(r"^[ \t]*MODULE\s+\w+\s*;|^[ \t]*IMPORT\s")),
            ("cpp", _C),
        ),
        ".mod": _rules(
            (None, _XML),
            ("nmodl", _rx(r"^[ \t]*(?:NEURON|PARAMETER|ASSIGNED|STATE|BREAKPOINT|INITIAL|DERIVATIVE|UNITS)\s*\{")),
            ("modula-2", _rx(r"^[ \t]*(?:(?:DEFINITION|IMPLEMENTATION)\s+)?MODULE\s+\w+")),
            ("ampl", _rx(r"^[ \t]*(?:param|var|set|maximize|minimize|subject\s+to|s\.t\.)\s")),
        ),
        ".ms": _rules(("roff", _ROFF), ("assembly", _ASSEMBLY)),
        ".n": _rules(("roff", _ROFF), ("nemerle", _rx(r"^[ \t]*(?:using\s+System|namespace\s|def\s|mutable\s)"))),
        ".nr": _rules(("roff", _ROFF), ("noir", _rx(r"^[ \t]*(?:fn\s+main|use\s+dep::|pub\s+fn|fn\s+\w+)"))),
        ".rno": _rules(("roff", _ROFF)),
        ".spec": _rules(
            (None, _rx(r"^[ \t]*(?:Name|Version|Release|Summary|License|BuildRequires|Requires|Source\d*):|^%(?:"
                       r"description|prep|build|install|files)\b")),
            ("python", _rx(r"^[ \t]*(?:a\s*=\s*Analysis\(|exe\s*=\s*EXE\(|import\s+\w|from\s+\w+\s+import\s)")),
            ("ruby", _rx(r"\bRSpec\.|^[ \t]*(?:describe|context|it)\s+.*\bdo\s*(?:\|.*\|)?\s*$|^[ \t]*require\s+['\"]")),
        ),
        ".rpy": _rules(
            ("ren-py", _rx(r"^[ \t]*(?:label\s+\w+\s*:|screen\s+\w+|init\s+(?:python|-?\d+)|image\s+\w+|menu\s*:)")),
            ("python", _rx(r"^[ \t]*(?:import|from|def|class|if|for|print)\b")),
        ),
        ".st": _rules(
            ("smalltalk", _rx(r"\bsubclass:\s*#\w|instanceVariableNames:|^!\w+\s+methodsFor:")),
            ("stringtemplate", _rx(r"\$\w+(?:\.\w+)*\$|<\w+\([^)]*\)>|::=")),
        ),
        ".scm": _rules(
            ("tree-sitter-query", _rx(r"\)\s*@[\w.]+|^[ \t]*\[\s*$|\(#(?:match|eq|set)\?")),
            ("scheme", _rx(r"^[ \t]*\((?:define|import|library|lambda|let|use-modules|define-module)\b")),
        ),
        ".sls": _rules(
            ("scheme", _rx(r"^[ \t]*\((?:library|import|define)\b")),
            ("salt", _rx(r"^[ \t]*[\w./{}-]+:\s*$")),
        ),
        ".b": _rules(("limbo", _LIMBO), ("brainfuck", _rx(r"^[\s+\-<>.,\[\]]{20,}$"))),
        ".bb": _rules(
            ("bitbake", _rx(r"^[ \t]*(?:inherit|require|include)\s|^[ \t]*(?:SRC_URI|LICENSE|DESCRIPTION|DEPENDS|"
                            r"SUMMARY)\s*[?+:.]*=|^[ \t]*do_\w+\s*\(\)")),
            ("clojure", _rx(r"^[ \t]*\((?:ns|require|def|defn)\b")),
        ),
        ".asc": _rules(
            (None, _rx(r"-----BEGIN PGP|^=+\s+\w|^:\w[\w-]*:")),
            ("ags-script", _rx(r"^[ \t]*(?:function\s|import\s|struct\s|#define\s)")),
        ),
        ".as": _rules(
            ("actionscript", _rx(r"^[ \t]*package\b|\bimport\s+flash\.|\bvar\s+\w+\s*:\s*\w+")),
            ("angelscript", _rx(r"^[ \t]*(?:class|void|int|shared|funcdef|interface)\s")),
        ),
        ".al": _rules(
            ("al", _rx(r"^[ \t]*(?:codeunit|table|page|pageextension|tableextension|report|enum)\s+\d+\s", flags=_MI)),
            ("perl", _PERL),
        ),
        ".gd": _rules(
            ("gdscript", _rx(r"^[ \t]*(?:extends\s|func\s|onready\s|@export|signal\s|class_name\s)")),
            ("gap", _rx(r":=|\bend;")),
        ),
        ".mo": _rules(
            ("motoko", _rx(r"^[ \t]*(?:actor\b|import\s+\w+\s+\"mo:|public\s+(?:shared|func|query))")),
            ("modelica", _rx(r"^[ \t]*(?:model|package|within|record|block|connector|partial\s+model)\s+\w|"
                             r"^[ \t]*end\s+\w+\s*;")),
        ),
        ".m4": _rules(
            ("m4sugar", _rx(r"\b(?:AC_DEFUN|AU_DEFUN|AC_REQUIRE|m4_define|AS_IF|AC_MSG_\w+)\b")),
            ("m4", _rx(r"\b(?:define|dnl|divert|include|changequote)\b")),
        ),
        ".vba": _rules(
            ("vim-script", _rx(r"^[ \t]*(?:function!|endfunction|let\s+[gsblw]:|set\s+\w|\"\s)")),
            ("vba", _rx(r"^[ \t]*(?:Attribute\s+VB_|Sub\s|Function\s|Dim\s|Public\s|Private\s|Option\s+Explicit)")),
        ),
        ".yy": _rules(("yacc", _rx(r"^%%|^%(?:token|union|type|left|right|start)\b|^%\{")), (None, _rx(r"\A\s*\{"))),
        ".ice": _rules(("slice", _rx(r"^[ \t]*(?:module|interface|class|struct)\s+\w+")), (None, _rx(r"\A\s*[\[{]"))),
        ".star": _rules(
            (None, _rx(r"^data_|^loop_")), ("starlark", _rx(r"^[ \t]*(?:load\(|def\s|\w+\s*=|\w+\()"))
        ),
        ".typ": _rules((None, _XML), ("typst", _rx(r"^[ \t]*#(?:set|show|let|import|include)\b|^=+\s"))),
        ".pc": _rules(
            (None, _rx(r"^[ \t]*(?:Name|Description|Version|Libs|Cflags|Requires)\s*:|^[ \t]*(?:prefix|libdir)\s*=")),
            ("pro-c", _rx(r"\bEXEC\s+SQL\b", flags=_MI)),
        ),
        ".cue": _rules(
            (None, _rx(r"^[ \t]*(?:FILE|TRACK|INDEX|PERFORMER|TITLE|REM)\s")),
            ("cue", _rx(r"^[ \t]*(?:package\s|import\s|[\w#]+:\s)")),
        ),
        ".tl": _rules(("teal", _rx(r"^[ \t]*local\s+(?:function|record|type)\b|:\s*(?:string|number|boolean)\b"))),
        ".w": _rules(
            ("cweb", _rx(r"^@(?:\*|\s|c\b|<)")),
            ("openedge-abl", _rx(r"^[ \t]*(?:DEFINE\s|&ANALYZE|PROCEDURE\s|FOR\s+EACH\b)", flags=_MI)),
        ),
        ".p": _rules(
            ("gnuplot", _rx(r"^[ \t]*(?:set\s+\w+|plot\s|splot\s|replot\b)")),
            ("openedge-abl", _rx(r"^[ \t]*(?:DEFINE\s+(?:VARIABLE|TEMP-TABLE|INPUT)|FOR\s+EACH\b)", flags=_MI)),
        ),
        ".plt": _rules(("gnuplot", _rx(r"^[ \t]*(?:set\s+\w+|plot\s|splot\s|replot\b)")), ("prolog", _PROLOG)),
        ".trigger": _rules(("apex", _rx(r"^[ \t]*trigger\s+\w+\s+on\s+\w+", flags=_MI)), ("shell", _SHELL_ASSIGN)),
        ".toc": _rules(("tex", _TEX), (None, _rx(r"^##\s*\w+\s*:"))),
        ".res": _rules((None, _XML), ("rescript", _rx(r"^[ \t]*(?:let|type|module|open|@react|external)\b"))),
        ".mojo": _rules((None, _XML), ("mojo", _rx(r"^[ \t]*(?:fn|def|struct|from|import|trait)\s"))),
        ".sw": _rules((None, _XML), ("sway", _rx(r"^[ \t]*(?:contract|script|library|predicate)\s*;|^[ \t]*fn\s"))),
        ".nu": _rules(
            ("nushell", _rx(r"^[ \t]*(?:def|let|export\s+def|use|mut)\s|\$env\.")),
            ("nu", _rx(r"^[ \t]*\((?:class|function|load|set)\s")),
        ),
        ".odin": _rules(("odin", _rx(r"^[ \t]*package\s+\w+|::\s*(?:proc|struct|enum)\b"))),
        ".lsp": _rules(
            ("common-lisp", _rx(r"^[ \t]*\((?:defun|defmacro|defpackage|in-package|defvar|defparameter)\b")),
            ("newlisp", _rx(r"^[ \t]*\((?:define|context|constant)\b")),
        ),
        ".e": _rules(
            ("euphoria", _rx(r"^[ \t]*(?:include\s+std/|global\s+(?:function|procedure)|end\s+procedure)")),
            ("e", _rx(r"pragma\.syntax|^[ \t]*def\s+\w+\s*(?:\(|:=)")),
            ("eiffel", _rx(r"^[ \t]*(?:(?:deferred|expanded|frozen)\s+)?class\s*$|^[ \t]*(?:note|indexing|feature)\b")),
        ),
    }
)
# fmt: on


def resolve(extension: str, head: str, claimants: Collection[str | None]) -> str | None:
    """The language the first matching rule names, among `claimants`; None when no rule settles it.

    None also stands for "a data format" (the rule matched a non-code claimant): either way the file
    gets no language.
    """
    for language, marker in RULES.get(extension, ()):
        if language in claimants and marker.search(head):
            return language
    return None
