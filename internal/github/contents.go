package github

import (
	"context"
	"errors"
	"fmt"

	gogithub "github.com/google/go-github/v62/github"
)

// PutFile commits content at path on branch with message, creating the
// file or replacing it, and returns the commit's SHA.
//
// GitHub refuses to replace a file without the SHA of the blob it
// replaces, so PutFile reads that first; if someone else commits the file
// in between, GitHub answers 409 and PutFile fails rather than overwrite.
// Files over 1 MB cannot be read back this way (GitHub's contents API
// limit); pier's are far smaller.
//
// GitHub API docs: https://docs.github.com/rest/repos/contents#create-or-update-file-contents
func (c *Client) PutFile(ctx context.Context, owner, repo, branch, path, message string, content []byte) (commitSHA string, err error) {
	sha, err := c.putFile(ctx, owner, repo, branch, path, message, content)
	if err != nil {
		return "", fmt.Errorf("put %s on %s/%s@%s: %w", path, owner, repo, branch, notFound(err))
	}
	return sha, nil
}

func (c *Client) putFile(ctx context.Context, owner, repo, branch, path, message string, content []byte) (string, error) {
	if content == nil {
		content = []byte{} // an empty file: "content" must be there
	}
	opts := &gogithub.RepositoryContentFileOptions{Message: &message, Content: content, Branch: &branch}
	existing, _, _, err := c.gh.Repositories.GetContents(ctx, owner, repo, path, &gogithub.RepositoryContentGetOptions{Ref: branch})
	switch {
	case statusCode(err) == 404:
		// A new file.
	case err != nil:
		return "", err
	case existing == nil:
		return "", errors.New("a directory is there")
	default:
		opts.SHA = existing.SHA
	}
	res, _, err := c.gh.Repositories.CreateFile(ctx, owner, repo, path, opts)
	if err != nil {
		return "", err
	}
	return res.Commit.GetSHA(), nil
}

// GetFile returns the content of the file at path at ref (a branch, a
// tag or a commit; the default branch if empty); ErrNotFound when there
// is no such file or ref.
//
// GitHub API docs: https://docs.github.com/rest/repos/contents#get-repository-content
func (c *Client) GetFile(ctx context.Context, owner, repo, ref, path string) ([]byte, error) {
	b, err := c.getFile(ctx, owner, repo, ref, path)
	if err != nil {
		at := owner + "/" + repo
		if ref != "" {
			at += "@" + ref
		}
		return nil, fmt.Errorf("get %s from %s: %w", path, at, notFound(err))
	}
	return b, nil
}

func (c *Client) getFile(ctx context.Context, owner, repo, ref, path string) ([]byte, error) {
	file, _, _, err := c.gh.Repositories.GetContents(ctx, owner, repo, path, &gogithub.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		return nil, err
	}
	if file == nil {
		return nil, errors.New("a directory, not a file")
	}
	s, err := file.GetContent() // base64, which GitHub breaks into lines
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}
