// Types of the packages the tests use that ship none.

declare module "asl-validator" {
  interface ValidationError {
    readonly "Error code": string;
    readonly Message: string;
  }
  export default function validator(
    definition: unknown,
    options?: { readonly checkPaths?: boolean; readonly checkArn?: boolean },
  ): { isValid: boolean; errors: ValidationError[]; errorsText: (separator?: string) => string };
}
