// `natural`'s own index.d.ts imports a .ts source file (analyzers/SenType.ts) that does not compile
// under this project's erasableSyntaxOnly/verbatimModuleSyntax flags, and skipLibCheck does not
// cover .ts files. tsconfig maps the package here instead; we use a small part of it, untyped.
declare const natural: any;
export default natural;
