/** The keys of a JWT_SECRET value: comma-separated (current first), blanks around them ignored. */
export const jwtSecretKeys = (secret: string): string[] =>
  secret
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean);
