using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using ParallelExec.Analyzers.Internal;

namespace ParallelExec.Analyzers.CodeFixes;

/// <summary>Pieces the fixes share.</summary>
internal static class CodeFixHelpers
{
    /// <summary>What every fix reads first: the document's syntax root, its semantic model and the known types; <see langword="null"/> when either is unavailable.</summary>
    public static async Task<(SyntaxNode Root, SemanticModel Model, KnownTypes Types)?> LoadAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        var model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        return root is null || model is null ? null : (root, model, KnownTypes.From(model.Compilation));
    }

    /// <summary>The whitespace that indents <paramref name="statement"/>.</summary>
    public static SyntaxTriviaList Indentation(SyntaxNode statement)
    {
        var last = statement.GetLeadingTrivia().LastOrDefault(trivia => trivia.IsKind(SyntaxKind.WhitespaceTrivia));
        return last.IsKind(SyntaxKind.WhitespaceTrivia) ? SyntaxFactory.TriviaList(last) : SyntaxFactory.TriviaList();
    }

    /// <summary>The line break the file uses after <paramref name="node"/> (a line feed when none follows it).</summary>
    public static string NewLine(SyntaxNode node)
    {
        var endOfLine = node.GetTrailingTrivia().FirstOrDefault(trivia => trivia.IsKind(SyntaxKind.EndOfLineTrivia));
        return endOfLine.IsKind(SyntaxKind.EndOfLineTrivia) ? endOfLine.ToFullString() : "\n";
    }

    /// <summary>
    /// The <see cref="System.Threading.CancellationToken"/> parameter of the function around <paramref name="node"/>,
    /// when it has exactly one.
    /// </summary>
    public static string? CancellationTokenParameter(SyntaxNode node, SemanticModel model, CancellationToken cancellationToken)
    {
        var function = node.Ancestors().FirstOrDefault(Internal.SyntaxShape.IsFunction);
        var symbol = function switch
        {
            null => null,
            AnonymousFunctionExpressionSyntax => model.GetSymbolInfo(function, cancellationToken).Symbol as IMethodSymbol,
            _ => model.GetDeclaredSymbol(function, cancellationToken) as IMethodSymbol,
        };
        if (symbol is null)
        {
            return null;
        }

        var tokens = symbol.Parameters.Where(parameter => parameter.Type.ToDisplayString() == "System.Threading.CancellationToken").ToList();
        return tokens.Count == 1 ? tokens[0].Name : null;
    }

    /// <summary>
    /// How to name a type of a namespace at <paramref name="position"/>: its simple name when that already binds to it,
    /// or when nothing else has that name (then <paramref name="needsUsing"/> says a using directive must be added), else
    /// its global name.
    /// </summary>
    public static string NameOf(INamedTypeSymbol type, SemanticModel model, int position, out bool needsUsing)
    {
        needsUsing = false;
        var visible = model.LookupNamespacesAndTypes(position, name: type.Name);
        if (visible.Any(symbol => SymbolEqualityComparer.Default.Equals(symbol, type)))
        {
            return type.Name;
        }

        if (visible.IsEmpty)
        {
            needsUsing = true;
            return type.Name;
        }

        return "global::" + type.ToDisplayString();
    }

    /// <summary>Whether a using directive for <paramref name="ns"/> applies to the file (in it, or a global using anywhere).</summary>
    public static bool HasUsing(CompilationUnitSyntax unit, Compilation compilation, string ns)
    {
        static bool Matches(UsingDirectiveSyntax directive, string ns) =>
            directive.Alias is null && directive.StaticKeyword.IsKind(SyntaxKind.None) && directive.Name?.ToString() == ns;

        if (unit.DescendantNodes(node => node is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax).OfType<UsingDirectiveSyntax>().Any(directive => Matches(directive, ns)))
        {
            return true;
        }

        return compilation.SyntaxTrees.Select(tree => tree.GetRoot()).OfType<CompilationUnitSyntax>()
            .Any(other => other.Usings.Any(directive => directive.GlobalKeyword.IsKind(SyntaxKind.GlobalKeyword) && Matches(directive, ns)));
    }

    /// <summary>Adds <c>using ns;</c> after the file's other top-level using directives.</summary>
    public static CompilationUnitSyntax AddUsing(CompilationUnitSyntax unit, string ns) =>
        unit.AddUsings(SyntaxFactory.UsingDirective(SyntaxFactory.ParseName(ns)).WithAdditionalAnnotations(Formatter.Annotation));

    /// <summary>The arguments of a call by parameter name, named or positional; <see langword="null"/> for params arrays.</summary>
    public static Dictionary<string, ExpressionSyntax>? ArgumentsByName(InvocationExpressionSyntax call, IMethodSymbol method)
    {
        var result = new Dictionary<string, ExpressionSyntax>();
        var arguments = call.ArgumentList.Arguments;
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            string name;
            if (argument.NameColon is not null)
            {
                name = argument.NameColon.Name.Identifier.ValueText;
            }
            else if (i < method.Parameters.Length && !method.Parameters[i].IsParams)
            {
                name = method.Parameters[i].Name;
            }
            else
            {
                return null;
            }

            if (!argument.RefKindKeyword.IsKind(SyntaxKind.None))
            {
                return null;
            }

            result[name] = argument.Expression;
        }

        return result;
    }
}
